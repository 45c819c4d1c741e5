/**
 * One inconsistency in a profile or device entry. `field` is a dotted path an operator can find
 * in what they wrote (`servers[0].uri`, `device.serverCredentials.101.secretKey`); `message`
 * says what is wrong without repeating any key material.
 */
export interface ConfigurationIssue {
  readonly field: string;
  readonly message: string;
}

/** Thrown by compileBootstrapPlan when the configuration does not check out. */
export class ConfigurationError extends Error {
  override readonly name = 'ConfigurationError';
  readonly issues: readonly ConfigurationIssue[];

  constructor(issues: readonly ConfigurationIssue[]) {
    super(`invalid bootstrap configuration: ${issues.map((issue) => `${issue.field}: ${issue.message}`).join('; ')}`);
    this.issues = issues;
  }
}
