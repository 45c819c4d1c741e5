/** Thrown for wrong command-line words: main prints it with the usage hint and exits 2. */
export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}

export const USAGE = `Usage: lwm2m-bs <command> [options]

Commands:
  decode --format <name|number> [--path /o/i] <hex|->
      Decode an LwM2M payload (hex, or - for stdin) and print it as JSON.
  encode --format <name|number> --path /o/i <json|->
      Encode JSON (keys: resource paths, absolute or relative to --path) and print hex.
  help
      Show this text.

Formats: text (0), link-format (40), opaque (42), cbor (60), senml-json (110), senml-cbor (112),
         tlv (11542, legacy 1542), lwm2m-json (11543), lwm2m-cbor (11544).

JSON values: bare when the object model says the type ("/0/1/0": "coaps://...", "/1/0/1": 300);
tagged otherwise: {"opaque": "hex"}, {"objlnk": "3:0"}, {"float": 1}, {"unsigned": "18446744073709551615"}.`;
