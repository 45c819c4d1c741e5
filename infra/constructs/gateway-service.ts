import { fileURLToPath } from 'node:url';
import { CfnOutput, Duration, RemovalPolicy, Stack, Validations } from 'aws-cdk-lib';
import { FlowLogDestination, Peer, Port, SecurityGroup, SubnetType, Vpc } from 'aws-cdk-lib/aws-ec2';
import { Platform } from 'aws-cdk-lib/aws-ecr-assets';
import { Cluster, ContainerImage, ContainerInsights, CpuArchitecture, FargateService, FargateTaskDefinition, LogDrivers, OperatingSystemFamily, Protocol as EcsProtocol } from 'aws-cdk-lib/aws-ecs';
import { NetworkLoadBalancer, Protocol } from 'aws-cdk-lib/aws-elasticloadbalancingv2';
import { LogGroup, RetentionDays } from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';

const repoRoot = fileURLToPath(new URL('../../', import.meta.url));

export const COAP_PORT = 5683;
export const COAPS_PORT = 5684;
/** TCP port the container answers on while it runs; an NLB cannot health-check UDP. */
export const HEALTH_PORT = 8080;

/**
 * The gateway as a container: ECS Fargate behind a Network Load Balancer on UDP 5683 (CoAP)
 * and 5684 (CoAP over DTLS). Optional (`lwm2m-bs:gateway=true`): a fleet may run its gateway
 * elsewhere and only use IoT Core. Public subnets and public task addresses instead of NAT
 * gateways: the task only pulls its image and talks to AWS APIs, and its security group admits
 * nothing but CoAP and health checks.
 */
export class GatewayService extends Construct {
  readonly service: FargateService;
  readonly loadBalancer: NetworkLoadBalancer;

  constructor(scope: Construct, id: string) {
    super(scope, id);
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
      portMappings: [
        { containerPort: COAP_PORT, protocol: EcsProtocol.UDP },
        { containerPort: COAPS_PORT, protocol: EcsProtocol.UDP },
        { containerPort: HEALTH_PORT, protocol: EcsProtocol.TCP },
      ],
      stopTimeout: Duration.seconds(30),
    });

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
      minHealthyPercent: 100,
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
    new CfnOutput(Stack.of(this), 'GatewayAddress', { description: 'DNS name of the gateway load balancer (UDP 5683, 5684)', value: this.loadBalancer.loadBalancerDnsName });

    Validations.of(task.obtainExecutionRole()).acknowledge({ id: 'AwsSolutions-IAM5[Resource::*]', reason: 'ecr:GetAuthorizationToken, which ECS needs to pull the image, supports no resource-level permissions; the pull itself is limited to the asset repository.' });
    Validations.of(securityGroup).acknowledge({ id: 'AwsSolutions-EC23', reason: 'LwM2M devices bootstrap from any address on the internet; the rule admits only UDP 5683 (CoAP) and 5684 (CoAP over DTLS).' });
    Validations.of(this.loadBalancer).acknowledge({ id: 'AwsSolutions-ELB2', reason: 'NLB access logs are written only for TLS listeners; this balancer has UDP listeners only, so there is nothing to log.' });
  }
}
