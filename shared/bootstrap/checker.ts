import { MAX_ID } from '../lwm2m/path.ts';
import { aclInstanceIds } from './acl-instance.ts';
import type { ConfigurationIssue } from './configuration-error.ts';
import { credentialIssues, keyCeilingIssues, oscoreIssues } from './credential-rules.ts';
import type { DeviceEntry } from './device.ts';
import type { Profile } from './profile.ts';
import { bootstrapServerInstanceId, resolveServerAccounts, type ResolvedAccount } from './server-accounts.ts';
import { serverUriProblem } from './server-uri.ts';

/**
 * Every inconsistency in a profile, and with a device entry in what that device would be sent,
 * each naming the field to fix, in the spirit of Leshan's BootstrapConfigurationChecker. Without
 * a device the rules about device-held credentials are skipped. An empty list means
 * compileBootstrapPlan will succeed.
 */
export function checkBootstrapConfiguration(profile: Profile, device?: DeviceEntry): ConfigurationIssue[] {
  const issues: ConfigurationIssue[] = [];
  const accounts = resolveServerAccounts(profile, device);
  if (accounts.length === 0) {
    issues.push({ field: 'servers', message: 'no LwM2M Server account: after a bootstrap a client must hold at least one' });
  }
  if (device !== undefined) issues.push(...deviceLinkIssues(profile, device));
  issues.push(...shortServerIdIssues(accounts));
  issues.push(...instanceIdIssues(profile, accounts));
  for (const resolved of accounts) issues.push(...accountIssues(resolved, device));
  issues.push(...aclIssues(profile, accounts));
  issues.push(...bootstrapServerIssues(profile, device));
  if (device !== undefined) issues.push(...pskIdentityIssues(accounts, device));
  issues.push(...keyCeilingSweep(accounts, device));
  return issues;
}

function deviceLinkIssues(profile: Profile, device: DeviceEntry): ConfigurationIssue[] {
  const issues: ConfigurationIssue[] = [];
  if (device.profile !== profile.name) {
    issues.push({ field: 'device.profile', message: `names profile ${device.profile}, checked against ${profile.name}` });
  }
  const configured = new Set(profile.servers.map((account) => String(account.shortServerId)));
  for (const ssid of Object.keys(device.overrides.servers ?? {})) {
    if (!configured.has(ssid)) {
      issues.push({ field: `device.overrides.servers.${ssid}`, message: `profile ${profile.name} has no server account with Short Server ID ${ssid}` });
    }
  }
  return issues;
}

function shortServerIdIssues(accounts: readonly ResolvedAccount[]): ConfigurationIssue[] {
  const firstIndex = new Map<number, number>();
  const issues: ConfigurationIssue[] = [];
  for (const { account, index, field } of accounts) {
    const first = firstIndex.get(account.shortServerId);
    if (first === undefined) firstIndex.set(account.shortServerId, index);
    else issues.push({ field: field('shortServerId'), message: `Short Server ID ${account.shortServerId} is also used by servers[${first}]` });
  }
  return issues;
}

/** Allocated ids never collide; pinned ones can, with each other or with the Bootstrap-Server account. */
function instanceIdIssues(profile: Profile, accounts: readonly ResolvedAccount[]): ConfigurationIssue[] {
  const issues: ConfigurationIssue[] = [];
  const bootstrapId = bootstrapServerInstanceId(profile);
  const securityOwners = new Map<number, string>();
  const serverOwners = new Map<number, string>();
  for (const { account, field, index } of accounts) {
    if (account.securityInstanceId !== undefined) {
      const id = account.securityInstanceId;
      if (id === bootstrapId) {
        issues.push({
          field: field('securityInstanceId'),
          message: `/0/${id} holds the client's Bootstrap-Server account (bootstrapServer.instanceId, default 0)`,
        });
      }
      const other = securityOwners.get(id);
      if (other !== undefined) issues.push({ field: field('securityInstanceId'), message: `/0/${id} is also written for ${other}` });
      securityOwners.set(id, `servers[${index}]`);
    }
    if (account.serverInstanceId !== undefined) {
      const id = account.serverInstanceId;
      const other = serverOwners.get(id);
      if (other !== undefined) issues.push({ field: field('serverInstanceId'), message: `/1/${id} is also written for ${other}` });
      serverOwners.set(id, `servers[${index}]`);
    }
  }
  return issues;
}

function accountIssues(resolved: ResolvedAccount, device: DeviceEntry | undefined): ConfigurationIssue[] {
  const { account, field } = resolved;
  const issues: ConfigurationIssue[] = [];
  const uriProblem = serverUriProblem(account.uri, account.securityMode);
  if (uriProblem !== undefined) {
    const modeField = field('securityMode');
    const modeNote = modeField === `servers[${resolved.index}].securityMode` ? '' : ` (securityMode from ${modeField})`;
    issues.push({ field: field('uri'), message: `${uriProblem}${modeNote}` });
  }
  if (account.defaultMinPeriod !== undefined && account.defaultMaxPeriod !== undefined && account.defaultMinPeriod > account.defaultMaxPeriod) {
    issues.push({
      field: field('defaultMinPeriod'),
      message: `${account.defaultMinPeriod} s is longer than defaultMaxPeriod ${account.defaultMaxPeriod} s`,
    });
  }
  // Device-held credentials and OSCORE contexts can only be checked against a device.
  if (account.credentialSource === 'profile' || device !== undefined) {
    issues.push(...credentialIssues(account.securityMode, resolved.credentials, resolved.credentialsField));
  }
  if (account.oscore !== undefined && (account.oscore !== 'device' || device !== undefined)) {
    if (resolved.oscore === undefined) {
      issues.push({ field: resolved.oscoreField, message: `missing: server account ${account.shortServerId} takes its OSCORE context from the device entry` });
    } else {
      issues.push(...oscoreIssues(resolved.oscore, resolved.oscoreField));
    }
  }
  return issues;
}

function aclIssues(profile: Profile, accounts: readonly ResolvedAccount[]): ConfigurationIssue[] {
  const issues: ConfigurationIssue[] = [];
  const ssids = new Set(accounts.map(({ account }) => account.shortServerId));
  const ids = aclInstanceIds(profile);
  const instanceOwners = new Map<number, number>();
  const targetOwners = new Map<string, number>();
  profile.acl.forEach((entry, index) => {
    const id = ids[index]!;
    const sameId = instanceOwners.get(id);
    if (sameId !== undefined) issues.push({ field: `acl[${index}].instanceId`, message: `/2/${id} is also written for acl[${sameId}]` });
    instanceOwners.set(id, index);
    const target = `/${entry.objectId}/${entry.objectInstanceId}`;
    const sameTarget = targetOwners.get(target);
    if (sameTarget !== undefined) issues.push({ field: `acl[${index}]`, message: `${target} already has its ACL in acl[${sameTarget}]` });
    targetOwners.set(target, index);
    for (const key of Object.keys(entry.rights)) {
      // Key 0 holds the default rights for servers without their own entry.
      if (Number(key) !== 0 && !ssids.has(Number(key))) {
        issues.push({ field: `acl[${index}].rights.${key}`, message: `Short Server ID ${key} is not one of the profile's server accounts` });
      }
    }
    // MAX_ID marks an instance owned by the Bootstrap-Server (Core 1.0 E.3).
    if (entry.owner !== MAX_ID && !ssids.has(entry.owner)) {
      issues.push({ field: `acl[${index}].owner`, message: `Short Server ID ${entry.owner} is not one of the profile's server accounts` });
    }
  });
  return issues;
}

function bootstrapServerIssues(profile: Profile, device: DeviceEntry | undefined): ConfigurationIssue[] {
  const issues: ConfigurationIssue[] = [];
  const credentials = device?.bootstrapCredentials;
  if (profile.bootstrapServer !== undefined) {
    // Without a device the mode is not known yet: only the URI's shape can be checked.
    const mode = device === undefined ? undefined : (credentials?.securityMode ?? 'nosec');
    const problem = serverUriProblem(profile.bootstrapServer.uri, mode);
    if (problem !== undefined) {
      issues.push({ field: 'bootstrapServer.uri', message: mode === undefined ? problem : `${problem} (device.bootstrapCredentials.securityMode)` });
    }
  }
  // The device proves itself with these in the bootstrap DTLS handshake, rewritten or not.
  if (credentials !== undefined) issues.push(...credentialIssues(credentials.securityMode, credentials, 'device.bootstrapCredentials'));
  return issues;
}

/** One device's PSK identities must tell its accounts apart; a server looks keys up by identity. */
function pskIdentityIssues(accounts: readonly ResolvedAccount[], device: DeviceEntry): ConfigurationIssue[] {
  const holders = new Map<string, string>();
  const issues: ConfigurationIssue[] = [];
  const claim = (identity: string | undefined, field: string): void => {
    if (identity === undefined) return;
    const holder = holders.get(identity);
    if (holder !== undefined) issues.push({ field: `${field}.identity`, message: `same PSK identity as ${holder}` });
    else holders.set(identity, field);
  };
  if (device.bootstrapCredentials?.securityMode === 'psk') claim(device.bootstrapCredentials.identity, 'device.bootstrapCredentials');
  for (const { account, credentials, credentialsField } of accounts) {
    if (account.securityMode === 'psk') claim(credentials?.identity, credentialsField);
  }
  return issues;
}

/**
 * Every key, certificate and OSCORE value written anywhere, whatever mode it would be used in:
 * an absurd size is named precisely even where no other rule looks at that value.
 */
function keyCeilingSweep(accounts: readonly ResolvedAccount[], device: DeviceEntry | undefined): ConfigurationIssue[] {
  const issues: ConfigurationIssue[] = [];
  for (const { account, field } of accounts) {
    if (account.credentials !== undefined) issues.push(...keyCeilingIssues(account.credentials, field('credentials')));
    if (typeof account.oscore === 'object') issues.push(...keyCeilingIssues(account.oscore, field('oscore')));
  }
  if (device === undefined) return issues;
  if (device.bootstrapCredentials !== undefined) issues.push(...keyCeilingIssues(device.bootstrapCredentials, 'device.bootstrapCredentials'));
  for (const [ssid, credentials] of Object.entries(device.serverCredentials)) issues.push(...keyCeilingIssues(credentials, `device.serverCredentials.${ssid}`));
  for (const [ssid, context] of Object.entries(device.oscore)) issues.push(...keyCeilingIssues(context, `device.oscore.${ssid}`));
  return issues;
}
