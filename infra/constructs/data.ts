import { Duration, RemovalPolicy } from 'aws-cdk-lib';
import { AttributeType, BillingMode, ProjectionType, Table, TableEncryption, type Attribute, type ITable } from 'aws-cdk-lib/aws-dynamodb';
import { Key, KeySpec, KeyUsage } from 'aws-cdk-lib/aws-kms';
import { Construct } from 'constructs';
import { DEFAULT_TABLE_NAME, createTableInput } from '../../server/store/table.ts';

/** Items that expire (unknown-endpoint counters, later purge markers) carry epoch seconds here. */
export const TTL_ATTRIBUTE = 'expiresAt';

export interface DataProps {
  /** Deletion protection on the table, and RETAIN on the table and its key. */
  readonly deletionProtection: boolean;
}

/** Data by the table it made (Data.fingerprintKeyOf, Data.serverCredentialsKeyOf). */
const madeBy = new WeakMap<ITable, Data>();

/**
 * The bootstrap table, built from the same `createTableInput` the local adapter uses, so keys
 * and indexes cannot drift between dynalite and DynamoDB. On-demand (a fleet bootstraps in
 * bursts), point-in-time recovery, and a customer-managed key: the table holds device keys.
 */
export class Data extends Construct {
  readonly table: Table;
  readonly key: Key;
  /**
   * The HMAC key bootstrap PSKs are fingerprinted with (KMS GenerateMac, HMAC-SHA256) for the
   * table's ByKeyFingerprint index: it plays the local pepper's part and never leaves KMS, so
   * the table alone does not let anyone test a guessed key. Replacing it orphans every stored
   * fingerprint (devices must be imported again), so it is kept or removed with the table.
   */
  readonly fingerprintKey: Key;
  /**
   * The symmetric key minted LwM2M Server keys are sealed with in ServerCredentialsIssued events
   * (KmsKeySealer): the uplink function may only Encrypt with it, the LwM2M server side is
   * granted Decrypt outside the stack (the ServerCredentialsKeyArn output). A key of its own,
   * not the table's, so that reading those events never also opens the table. Kept or removed
   * with the table: the bus archive replays sealed events for a month.
   */
  readonly serverCredentialsKey: Key;

  constructor(scope: Construct, id: string, props: DataProps) {
    super(scope, id);
    const removalPolicy = props.deletionProtection ? RemovalPolicy.RETAIN : RemovalPolicy.DESTROY;
    this.key = new Key(this, 'TableKey', {
      description: 'lwm2m-bs: encrypts the bootstrap table (device credentials)',
      enableKeyRotation: true,
      removalPolicy,
      ...(removalPolicy === RemovalPolicy.DESTROY && { pendingWindow: Duration.days(7) }),
    });

    this.fingerprintKey = new Key(this, 'KeyFingerprintKey', {
      description: 'lwm2m-bs: HMAC key for bootstrap PSK fingerprints (detects keys shared by devices)',
      keySpec: KeySpec.HMAC_256,
      keyUsage: KeyUsage.GENERATE_VERIFY_MAC,
      // KMS rotates symmetric encryption keys only; a rotated HMAC key would split the index anyway.
      enableKeyRotation: false,
      removalPolicy,
      ...(removalPolicy === RemovalPolicy.DESTROY && { pendingWindow: Duration.days(7) }),
    });

    this.serverCredentialsKey = new Key(this, 'ServerCredentialsKey', {
      description: 'lwm2m-bs: seals minted LwM2M Server keys in ServerCredentialsIssued events',
      enableKeyRotation: true,
      removalPolicy,
      ...(removalPolicy === RemovalPolicy.DESTROY && { pendingWindow: Duration.days(7) }),
    });

    const model = createTableInput(DEFAULT_TABLE_NAME);
    const attribute = (name: string): Attribute => {
      const definition = model.AttributeDefinitions?.find((candidate) => candidate.AttributeName === name);
      if (definition?.AttributeType !== 'S') throw new Error(`table model: attribute ${name} is not a string key`);
      return { name, type: AttributeType.STRING };
    };
    const keyOf = (schema: typeof model.KeySchema, type: 'HASH' | 'RANGE'): string | undefined => schema?.find((element) => element.KeyType === type)?.AttributeName;
    const partitionKey = keyOf(model.KeySchema, 'HASH');
    const sortKey = keyOf(model.KeySchema, 'RANGE');
    if (partitionKey === undefined) throw new Error('table model: no partition key');

    this.table = new Table(this, 'Table', {
      partitionKey: attribute(partitionKey),
      ...(sortKey !== undefined && { sortKey: attribute(sortKey) }),
      billingMode: model.BillingMode === 'PAY_PER_REQUEST' ? BillingMode.PAY_PER_REQUEST : BillingMode.PROVISIONED,
      pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
      encryption: TableEncryption.CUSTOMER_MANAGED,
      encryptionKey: this.key,
      deletionProtection: props.deletionProtection,
      timeToLiveAttribute: TTL_ATTRIBUTE,
      removalPolicy,
    });
    for (const index of model.GlobalSecondaryIndexes ?? []) {
      const hash = keyOf(index.KeySchema, 'HASH');
      if (index.IndexName === undefined || hash === undefined) throw new Error('table model: index without name or key');
      const projection = index.Projection?.ProjectionType;
      if (projection === 'KEYS_ONLY') {
        this.table.addGlobalSecondaryIndex({ indexName: index.IndexName, partitionKey: attribute(hash), projectionType: ProjectionType.KEYS_ONLY });
        continue;
      }
      if (projection !== 'INCLUDE') throw new Error(`table model: index ${index.IndexName} must project INCLUDE or KEYS_ONLY`);
      this.table.addGlobalSecondaryIndex({
        indexName: index.IndexName,
        partitionKey: attribute(hash),
        projectionType: ProjectionType.INCLUDE,
        nonKeyAttributes: [...(index.Projection?.NonKeyAttributes ?? [])],
      });
    }
    madeBy.set(this.table, this);
  }

  /** The fingerprint key that goes with a table this construct made (for Functions, given the table). */
  static fingerprintKeyOf(table: ITable): Key | undefined {
    return madeBy.get(table)?.fingerprintKey;
  }

  /** The server credentials key that goes with a table this construct made (for Functions, given the table). */
  static serverCredentialsKeyOf(table: ITable): Key | undefined {
    return madeBy.get(table)?.serverCredentialsKey;
  }
}
