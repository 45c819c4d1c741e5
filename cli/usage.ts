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
  serve [--port 5683] [--coaps-port 5684 | --no-coaps] [--attach-port 5690 | --no-attach]
        [--data-dir <dir>] [--config <file.json>] [--bind4 <addr>] [--bind6 <addr>] [--no-ipv6]
        [--demo-server <port>] [--json]
      Run the bootstrap server on UDP, CoAP and coaps (DTLS 1.2 PSK), IPv4 and IPv6, until Ctrl-C.
      --config loads profiles and devices at start; --demo-server also runs a registration-only
      LwM2M server on that port; carrier attach events are taken on http://127.0.0.1:5690/attach.
  gateway --mqtt-url mqtts://<iot-endpoint>:8883 --gateway-id <id> [--cert <file> --key <file>]
          [--ca <file>] [--port 5683] [--table <name> [--coaps-port 5684] | --no-coaps]
          [--bind4 <addr>] [--bind6 <addr>] [--no-ipv6] [--health-port 8080] [--json]
      Run the CoAP gateway on UDP with the backend behind MQTT (AWS IoT Core: the gateway id is
      the thing name and the MQTT client id). TCP --health-port answers only while connected.
      Unset flags come from LWM2M_BS_MQTT_URL, LWM2M_BS_GATEWAY_ID and LWM2M_BS_MQTT_CERT, _KEY,
      _CA (file paths) or LWM2M_BS_MQTT_CERT_PEM, _KEY_PEM (PEM text), LWM2M_BS_TABLE. coaps
      needs the table, where it finds PSKs; without one it is off.
  simulate [--clients 10] [--concurrency 10] [--versions 1.0,1.1,1.2] [--server host:port]
           [--data-dir <dir>] [--lwm2m-port <port>] [--prefix sim] [--json]
      Simulated LwM2M clients bootstrap and register. Alone it brings its own bootstrap server
      and LwM2M server; with --server it adds its devices to a running serve's data directory.
  decode --format <name|number> [--path /o/i] <hex|->
      Decode an LwM2M payload (hex, or - for stdin) and print it as JSON.
  encode --format <name|number> --path /o/i <json|->
      Encode JSON (keys: resource paths, absolute or relative to --path) and print hex.
  profile put <file.json|-> | get <name> [--show-secrets] | list | delete <name>
      Validate and store, show, list or delete a profile (a fleet template).
  device put <file.json|-> | get <endpoint> [--show-secrets] | list [--profile <name>] | delete <endpoint>
      The same for one device entry; its profile must exist.
  device mark-bootstrap <endpoint>
      Mark the device for bootstrap (reason operator): served at its next Bootstrap-Request.
  import <file|-> [--format json|jsonl|csv] [--dry-run] [--refuse-low-entropy] [--report <file>] [--progress]
      Validate every row of a device file, then write them all, or nothing when a row is bad.
  status <endpoint>
      Show the device's last bootstrap.
  attach <events.json|->
      Take carrier attach events (one JSON object, a JSON array or JSON Lines): each is checked,
      its device found by ICCID, IMSI or IMEI, and one line printed per event. A device that
      needs a bootstrap is marked; with a serve running on the data directory the bootstrap is
      pushed to the event's address through its gateway, else it is served at the device's next
      Bootstrap-Request. Exit 1 when an event is invalid or names no known device.
  export factory <endpoint>... --out <dir> [--include-keys] [--force]
  export factory --devices <file> [--profile <name>] [--format json|jsonl|csv] --out <dir> [--include-keys] [--force]
      Write each device's factory bootstrap information (SenML-CBOR, TLV per object, JSON) to an
      owner-only directory under --out, or nothing when a device is unknown or would not
      bootstrap. Secret keys are left out (and named) unless --include-keys is given.
  export smartcard <endpoint>... --out <dir> --include-keys [--generate-scp03-keys] [--force]
      Write each device's UICC files (card-image.json, lwm2m-bootstrap.bin, scp03-keys.json).
      They always hold keys, so --include-keys is required. A device without SCP03 keys is
      refused unless --generate-scp03-keys, which generates and stores them; stored keys are kept.
  help
      Show this text.

Options of profile, device, import, status, attach and export: --data-dir <dir> (default
$LWM2M_BS_DATA_DIR, else ./.lwm2m-bs) and --json for machine-readable output. Secret keys
print as "(hidden: N bytes)" unless --show-secrets is given.
--endpoint <url> (default $LWM2M_BS_ENDPOINT): work against a deployed stack's admin API,
each request signed with SigV4 from the AWS default credential chain; --region <region>
(default: the execute-api host's region, else $AWS_REGION). attach and device mark-bootstrap
work on the data directory only.

Formats: text (0), link-format (40), opaque (42), cbor (60), senml-json (110), senml-cbor (112),
         tlv (11542, legacy 1542), lwm2m-json (11543), lwm2m-cbor (11544).

JSON values: bare when the object model says the type ("/0/1/0": "coaps://...", "/1/0/1": 300);
tagged otherwise: {"opaque": "hex"}, {"objlnk": "3:0"}, {"float": 1}, {"unsigned": "18446744073709551615"}.`;
