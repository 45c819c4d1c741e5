/** Thrown for wrong command-line words: main prints it with the usage hint and exits 2. */
export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}

/**
 * Thrown for input the command cannot use (an invalid document, an unknown profile or device):
 * main prints the one-line message and exits 1. The message never carries key material.
 */
export class InputError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'InputError';
  }
}

export const USAGE = `Usage: lwm2m-bs <command> [options]

Commands:
  decode --format <name|number> [--path /o/i] <hex|->
      Decode an LwM2M payload (hex, or - for stdin) and print it as JSON.
  encode --format <name|number> --path /o/i <json|->
      Encode JSON (keys: resource paths, absolute or relative to --path) and print hex.
  profile put <file.json|->        Validate and store a profile (a fleet template).
  profile get <name> [--show-secrets]
  profile list
  profile delete <name>
  device put <file.json|->         Validate and store one device entry; its profile must exist.
  device get <endpoint> [--show-secrets]
  device list [--profile <name>] [--show-secrets]
  device delete <endpoint>
  import <file|-> [--format json|jsonl|csv] [--dry-run] [--report <file>] [--progress]
      Validate every row of a device file, then write them all, or nothing when a row is bad.
  status <endpoint>
      Show the device's last bootstrap.
  help
      Show this text.

Options of profile, device, import and status: --data-dir <dir> (default $LWM2M_BS_DATA_DIR,
else ./.lwm2m-bs) and --json for machine-readable output. Secret keys print as
"(hidden: N bytes)" unless --show-secrets is given.

Formats: text (0), link-format (40), opaque (42), cbor (60), senml-json (110), senml-cbor (112),
         tlv (11542, legacy 1542), lwm2m-json (11543), lwm2m-cbor (11544).

JSON values: bare when the object model says the type ("/0/1/0": "coaps://...", "/1/0/1": 300);
tagged otherwise: {"opaque": "hex"}, {"objlnk": "3:0"}, {"float": 1}, {"unsigned": "18446744073709551615"}.`;
