import { fileURLToPath } from 'node:url';
import { CfnOutput, Duration, RemovalPolicy, Stack, Validations } from 'aws-cdk-lib';
import { FlowLogDestination, Peer, Port, SecurityGroup, SubnetType, Vpc } from 'aws-cdk-lib/aws-ec2';
import type { ITable } from 'aws-cdk-lib/aws-dynamodb';
import { Platform } from 'aws-cdk-lib/aws-ecr-assets';
import { Cluster, ContainerImage, ContainerInsights, CpuArchitecture, FargateService, FargateTaskDefinition, LogDrivers, OperatingSystemFamily, Protocol as EcsProtocol, Secret as EcsSecret } from 'aws-cdk-lib/aws-ecs';
import { NetworkLoadBalancer, Protocol } from 'aws-cdk-lib/aws-elasticloadbalancingv2';
import { PolicyStatement } from 'aws-cdk-lib/aws-iam';
import type { IKey } from 'aws-cdk-lib/aws-kms';
import { LogGroup, RetentionDays } from 'aws-cdk-lib/aws-logs';
import { Secret } from 'aws-cdk-lib/aws-secretsmanager';
import { Construct } from 'constructs';
import { IDENTITY_INDEX } from '../../server/store/table.ts';
import { CONTEXT, readSettings } from '../context.ts';

const repoRoot = fileURLToPath(new URL('../../', import.meta.url));

export const COAP_PORT = 5683;
export const COAPS_PORT = 5684;
/** TCP port the container answers on while its MQTT channel is up; an NLB cannot health-check UDP. */
export const HEALTH_PORT = 8080;

/** What `lwm2m-bs gateway` reads from its environment (`cli/commands/gateway.ts`, GATEWAY_ENV). */
export const GATEWAY_ENVIRONMENT = {
  mqttUrl: 'LWM2M_BS_MQTT_URL',
  gatewayId: 'LWM2M_BS_GATEWAY_ID',
  certPem: 'LWM2M_BS_MQTT_CERT_PEM',
  keyPem: 'LWM2M_BS_MQTT_KEY_PEM',
  table: 'LWM2M_BS_TABLE',
} as const;

/** The JSON fields of the certificate secret (`aws secretsmanager create-secret`, docs/aws.md). */
export const CERTIFICATE_SECRET_FIELDS = { certificate: 'certificatePem', privateKey: 'privateKey' } as const;

export interface GatewayServiceProps {
  /** The bootstrap table: coaps reads PSKs from its PSK identity index. */
  readonly table: ITable;
  /** The table's customer-managed key, which reading the index needs. */
  readonly tableKey: IKey;
  /** The gateway's IoT thing name, also its MQTT client id; default `<stack name>-gateway`. */
  readonly gatewayId?: string;
  /** The IoT Core data endpoint (`<prefix>-ats.iot.<region>.amazonaws.com`); default the context flag. */
  readonly iotDataEndpoint?: string;
  /** The Secrets Manager secret with the thing's certificate and key; default `<stack name>/gateway-certificate`. */
  /** Complete ARN of the certificate secret; else from context `lwm2m-bs:gatewayCertificateSecretArn`. */
  readonly certificateSecretArn?: string;
}

/**
 * The gateway as a container (`lwm2m-bs gateway`): ECS Fargate behind a Network Load Balancer
 * on UDP 5683 (CoAP) and 5684 (CoAP over DTLS), connected to the backend over IoT Core MQTT as
 * one IoT thing. Optional (`lwm2m-bs:gateway=true`): a fleet may run its gateway elsewhere and
 * only use IoT Core. Public subnets and public task addresses instead of NAT gateways: the task
 * only pulls its image and talks to AWS APIs, and its security group admits nothing but CoAP
 * and health checks.
 *
 * The thing, its certificate and the secret holding them are made by hand before the gateway
 * is switched on (docs/aws.md): they outlive deployments, the key is made outside the stack
 * (a value set here would pass through the template), and a task started before the secret has
 * its value would fail the deployment.
 */
export class GatewayService extends Construct {
  readonly service: FargateService;
  readonly loadBalancer: NetworkLoadBalancer;
  readonly gatewayId: string;

  constructor(scope: Construct, id: string, props: GatewayServiceProps) {
    super(scope, id);
    const stack = Stack.of(this);
    this.gatewayId = props.gatewayId ?? `${stack.stackName}-gateway`;
    const iotDataEndpoint = props.iotDataEndpoint ?? readSettings(this.node).iotDataEndpoint;
    if (iotDataEndpoint === undefined) {
      throw new Error(`the gateway container needs the IoT endpoint: -c ${CONTEXT.iotDataEndpoint}=$(aws iot describe-endpoint --endpoint-type iot:Data-ATS --query endpointAddress --output text)`);
    }
    const certificateArn = props.certificateSecretArn ?? readSettings(this.node).gatewayCertificateSecretArn;
    if (certificateArn === undefined) {
      throw new Error(
        `the gateway container needs its certificate secret's complete ARN: -c ${CONTEXT.gatewayCertificateSecretArn}=$(aws secretsmanager describe-secret --secret-id ${stack.stackName}/gateway-certificate --query ARN --output text)`,
      );
    }
    // Complete ARN, not a name: ECS cannot read a JSON key through a partial ARN (aws-cdk#18555).
    const certificate = Secret.fromSecretCompleteArn(this, 'Certificate', certificateArn);
    const vpc = new Vpc(this, 'Vpc', {
      maxAzs: 2,
      natGateways: 0,
      subnetConfiguration: [{ name: 'public', subnetType: SubnetType.PUBLIC }],
      flowLogs: { all: { destination: FlowLogDestination.toCloudWatchLogs(new LogGroup(this, 'FlowLogs', { retention: RetentionDays.ONE_MONTH, removalPolicy: RemovalPolicy.DESTROY })) } },
    });
    const cluster = new Cluster(this, 'Cluster', { vpc, containerInsightsV2: ContainerInsights.ENABLED });
    const task = new FargateTaskDefinition(this, 'Task', {
      cpu: 256,
      memoryLimitMiB: 512,
      runtimePlatform: { cpuArchitecture: CpuArchitecture.ARM64, operatingSystemFamily: OperatingSystemFamily.LINUX },
    });
    task.addContainer('Gateway', {
      image: ContainerImage.fromAsset(repoRoot, { platform: Platform.LINUX_ARM64 }),
      logging: LogDrivers.awsLogs({ streamPrefix: 'gateway', logGroup: new LogGroup(this, 'Logs', { retention: RetentionDays.THREE_MONTHS, removalPolicy: RemovalPolicy.DESTROY }) }),
      environment: {
        [GATEWAY_ENVIRONMENT.mqttUrl]: `mqtts://${iotDataEndpoint}:8883`,
        [GATEWAY_ENVIRONMENT.gatewayId]: this.gatewayId,
        [GATEWAY_ENVIRONMENT.table]: props.table.tableName,
      },
      // Injected by ECS at start; the task role has no access to the secret, only the execution role.
      secrets: {
        [GATEWAY_ENVIRONMENT.certPem]: EcsSecret.fromSecretsManager(certificate, CERTIFICATE_SECRET_FIELDS.certificate),
        [GATEWAY_ENVIRONMENT.keyPem]: EcsSecret.fromSecretsManager(certificate, CERTIFICATE_SECRET_FIELDS.privateKey),
      },
      portMappings: [
        { containerPort: COAP_PORT, protocol: EcsProtocol.UDP },
        { containerPort: COAPS_PORT, protocol: EcsProtocol.UDP },
        { containerPort: HEALTH_PORT, protocol: EcsProtocol.TCP },
      ],
      stopTimeout: Duration.seconds(30),
    });

    // coaps needs a device's key during the handshake, before any request reaches the backend:
    // the task reads it from the PSK identity indexes itself, which is all it may read
    // (storePskSource: one Query on the current identities' index, then one on the retiring
    // ones', which authenticate until their purge). Added by hand rather than with
    // grantReadData, which would also allow the table, every index, GetItem, Scan and more.
    const pskIndexes = [IDENTITY_INDEX.pskIdentity, IDENTITY_INDEX.retiringPskIdentity].map((index) => `${props.table.tableArn}/index/${index.indexName}`);
    task.addToTaskRolePolicy(new PolicyStatement({ actions: ['dynamodb:Query'], resources: pskIndexes }));
    task.addToTaskRolePolicy(new PolicyStatement({ actions: ['kms:Decrypt'], resources: [props.tableKey.keyArn] }));

    const securityGroup = new SecurityGroup(this, 'TaskSecurityGroup', { vpc, description: 'lwm2m-bs gateway tasks: CoAP from devices, health checks from the VPC', allowAllOutbound: true });
    // UDP target groups preserve the client address, so devices reach the task directly.
    securityGroup.addIngressRule(Peer.anyIpv4(), Port.udp(COAP_PORT), 'CoAP from devices');
    securityGroup.addIngressRule(Peer.anyIpv4(), Port.udp(COAPS_PORT), 'CoAP over DTLS from devices');
    securityGroup.addIngressRule(Peer.ipv4(vpc.vpcCidrBlock), Port.tcp(HEALTH_PORT), 'NLB health checks');

    this.service = new FargateService(this, 'Service', {
      cluster,
      taskDefinition: task,
      desiredCount: 1,
      assignPublicIp: true,
      vpcSubnets: { subnetType: SubnetType.PUBLIC },
      securityGroups: [securityGroup],
      // IoT Core drops a connection when another one opens with the same client id: a new task
      // must not run beside the old one. Deployments therefore stop the old task first.
      minHealthyPercent: 0,
      maxHealthyPercent: 100,
      circuitBreaker: { rollback: true },
    });

    this.loadBalancer = new NetworkLoadBalancer(this, 'LoadBalancer', { vpc, internetFacing: true, crossZoneEnabled: true });
    for (const [name, port] of [['Coap', COAP_PORT], ['Coaps', COAPS_PORT]] as const) {
      this.loadBalancer.addListener(`${name}Listener`, { port, protocol: Protocol.UDP }).addTargets(name, {
        port,
        protocol: Protocol.UDP,
        targets: [this.service.loadBalancerTarget({ containerName: 'Gateway', containerPort: port, protocol: EcsProtocol.UDP })],
        healthCheck: { protocol: Protocol.TCP, port: String(HEALTH_PORT), interval: Duration.seconds(10) },
        deregistrationDelay: Duration.seconds(30),
      });
    }
    new CfnOutput(stack, 'GatewayAddress', { description: 'DNS name of the gateway load balancer (UDP 5683, 5684)', value: this.loadBalancer.loadBalancerDnsName });
    new CfnOutput(stack, 'GatewayThingName', { description: 'IoT thing name (and MQTT client id) the gateway container connects as', value: this.gatewayId });
    new CfnOutput(stack, 'GatewayCertificateSecretName', { description: `Secrets Manager secret the container reads: JSON {"${CERTIFICATE_SECRET_FIELDS.certificate}", "${CERTIFICATE_SECRET_FIELDS.privateKey}"}`, value: certificate.secretName });

    Validations.of(task).acknowledge({ id: 'AwsSolutions-ECS2', reason: 'The plain environment holds only the gateway id, the IoT endpoint URL and the table name, none secret; the certificate and its private key come from Secrets Manager as ECS secrets.' });
    Validations.of(task.obtainExecutionRole()).acknowledge({ id: 'AwsSolutions-IAM5[Resource::*]', reason: 'ecr:GetAuthorizationToken, which ECS needs to pull the image, supports no resource-level permissions; the pull itself is limited to the asset repository.' });
    Validations.of(securityGroup).acknowledge({ id: 'AwsSolutions-EC23', reason: 'LwM2M devices bootstrap from any address on the internet; the rule admits only UDP 5683 (CoAP) and 5684 (CoAP over DTLS).' });
    Validations.of(this.loadBalancer).acknowledge({ id: 'AwsSolutions-ELB2', reason: 'NLB access logs are written only for TLS listeners; this balancer has UDP listeners only, so there is nothing to log.' });
  }
}
