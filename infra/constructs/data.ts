import { Duration, RemovalPolicy } from 'aws-cdk-lib';
import { AttributeType, BillingMode, ProjectionType, Table, TableEncryption, type Attribute } from 'aws-cdk-lib/aws-dynamodb';
import { Key } from 'aws-cdk-lib/aws-kms';
import { Construct } from 'constructs';
import { DEFAULT_TABLE_NAME, createTableInput } from '../../server/store/table.ts';

/** Items that expire (unknown-endpoint counters, later purge markers) carry epoch seconds here. */
export const TTL_ATTRIBUTE = 'expiresAt';

export interface DataProps {
  /** Deletion protection on the table, and RETAIN on the table and its key. */
  readonly deletionProtection: boolean;
}

/**
 * The bootstrap table, built from the same `createTableInput` the local adapter uses, so keys
 * and indexes cannot drift between dynalite and DynamoDB. On-demand (a fleet bootstraps in
 * bursts), point-in-time recovery, and a customer-managed key: the table holds device keys.
 */
export class Data extends Construct {
  readonly table: Table;
  readonly key: Key;

  constructor(scope: Construct, id: string, props: DataProps) {
    super(scope, id);
    const removalPolicy = props.deletionProtection ? RemovalPolicy.RETAIN : RemovalPolicy.DESTROY;
    this.key = new Key(this, 'TableKey', {
      description: 'lwm2m-bs: encrypts the bootstrap table (device credentials)',
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
      if (index.Projection?.ProjectionType !== 'INCLUDE') throw new Error(`table model: index ${index.IndexName} must project INCLUDE`);
      this.table.addGlobalSecondaryIndex({
        indexName: index.IndexName,
        partitionKey: attribute(hash),
        projectionType: ProjectionType.INCLUDE,
        nonKeyAttributes: [...(index.Projection.NonKeyAttributes ?? [])],
      });
    }
  }
}
