import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';

// Runs the real `lwm2m-bs` bin as an operator would: a child process, its stdout, stderr and
// exit code.
const BIN = fileURLToPath(new URL('../../cli/bin.mjs', import.meta.url));

function run(args: string[], stdin?: string): { status: number | null; stdout: string; stderr: string } {
  const result = spawnSync(process.execPath, [BIN, ...args], { encoding: 'utf8', input: stdin ?? '' });
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

// Server /1/0 {ssid 101, lifetime 300, binding "U"} in TLV, by hand: C1 00 65 | C2 01 01 2C | C1 07 55.
const SERVER_TLV = 'c10065 c201012c c10755';

describe('lwm2m-bs decode', () => {
  it('prints a TLV Server instance as the JSON view', () => {
    const { status, stdout, stderr } = run(['decode', '--format', 'tlv', '--path', '/1/0', SERVER_TLV]);
    assert.equal(stderr, '');
    assert.equal(status, 0);
    assert.deepEqual(JSON.parse(stdout), { '/1/0/0': 101, '/1/0/1': 300, '/1/0/7': 'U' });
  });

  it('accepts the format by number and the hex on stdin', () => {
    const { status, stdout } = run(['decode', '--format', '11542', '--path', '/1/0', '-'], `${SERVER_TLV}\n`);
    assert.equal(status, 0);
    assert.deepEqual(JSON.parse(stdout), { '/1/0/0': 101, '/1/0/1': 300, '/1/0/7': 'U' });
  });

  it('tags values the model cannot type: an opaque key of an unknown object', () => {
    // SenML-JSON [{"n":"/99/0/1","vd":"AAE"}]: base64url AAE = 00 01.
    const payload = Buffer.from('[{"n":"/99/0/1","vd":"AAE"}]').toString('hex');
    const { status, stdout } = run(['decode', '--format', 'senml-json', payload]);
    assert.equal(status, 0);
    assert.deepEqual(JSON.parse(stdout), { '/99/0/1': { opaque: '0001' } });
  });

  it('names the offset of a truncated TLV and exits 1 with one line', () => {
    const { status, stdout, stderr } = run(['decode', '--format', 'tlv', '--path', '/1/0', 'c10065c2']);
    assert.equal(status, 1);
    assert.equal(stdout, '');
    assert.match(stderr, /^lwm2m-bs: TRUNCATED: .*at offset 3/);
    assert.equal(stderr.trim().split('\n').length, 1);
  });

  it('names the offending character of bad hex', () => {
    const { status, stderr } = run(['decode', '--format', 'tlv', '--path', '/1/0', 'c1 0g']);
    assert.equal(status, 1);
    assert.match(stderr, /"g" is not a hex digit \(at offset 4\)/);
  });

  it('rejects an unknown format and missing arguments with usage exit codes', () => {
    assert.equal(run(['decode', '--format', 'xml', '00']).status, 1);
    const missing = run(['decode', '00']);
    assert.equal(missing.status, 2);
    assert.match(missing.stderr, /needs --format/);
    assert.equal(run(['frobnicate']).status, 2);
    assert.equal(run(['decode', '--format', 'tlv', '--bogus', '00']).status, 2);
  });
});

describe('lwm2m-bs encode', () => {
  it('encodes relative keys under --path to the same TLV bytes', () => {
    const { status, stdout } = run(['encode', '--format', 'tlv', '--path', '/1/0', '{"0":101,"1":300,"7":"U"}']);
    assert.equal(status, 0);
    assert.equal(stdout.trim(), SERVER_TLV.replaceAll(' ', ''));
  });

  it('round-trips through decode in SenML-CBOR', () => {
    const view = { '/0/1/0': 'coaps://dm.example.com:5684', '/0/1/5': '000102030405060708090a0b0c0d0e0f', '/0/1/10': 101 };
    const encoded = run(['encode', '--format', 'senml-cbor', '--path', '/0/1', JSON.stringify(view)]);
    assert.equal(encoded.status, 0);
    const decoded = run(['decode', '--format', 'senml-cbor', '--path', '/0/1', encoded.stdout.trim()]);
    assert.deepEqual(JSON.parse(decoded.stdout), view);
  });

  it('names the key whose value does not fit the resource type', () => {
    const { status, stderr } = run(['encode', '--format', 'tlv', '--path', '/1/0', '{"1":"three hundred"}']);
    assert.equal(status, 1);
    assert.match(stderr, /TYPE_MISMATCH: .*in 1\)/);
  });

  it('refuses JSON that is not JSON, naming it', () => {
    const { status, stderr } = run(['encode', '--format', 'tlv', '--path', '/1/0', '{"1":']);
    assert.equal(status, 1);
    assert.match(stderr, /MALFORMED: input is not JSON/);
  });

  it('needs --path for resource formats', () => {
    const { status, stderr } = run(['encode', '--format', 'tlv', '{}']);
    assert.equal(status, 2);
    assert.match(stderr, /needs --path/);
  });
});
