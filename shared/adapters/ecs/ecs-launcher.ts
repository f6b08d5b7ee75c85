import { RunTaskCommand, type ECSClient, type KeyValuePair } from '@aws-sdk/client-ecs';
import { TaskLaunchError } from '../../errors';
import type { DumpTaskRequest, TaskLauncher } from '../../ports';

export interface EcsLauncherOptions {
  cluster: string;
  taskDefinition: string;
  containerName: string;
  subnets: string[];
  securityGroups: string[];
  assignPublicIp: 'ENABLED' | 'DISABLED';
}

/**
 * Starts the dump task on Fargate. The overrides carry the database, tier, backup id, the
 * backup type when one is asked for, and the ARN of the credentials secret (the task reads
 * the secret itself: no password in the request); for a big database also the task's cpu
 * and memory (and the container's memory limit with them). The backup id is the client token, so a
 * retried call starts one task.
 */
export class EcsTaskLauncher implements TaskLauncher {
  constructor(
    private readonly client: ECSClient,
    private readonly options: EcsLauncherOptions,
  ) {}

  /** The exact RunTask input for a request (exposed for tests and dry runs). */
  commandInput(request: DumpTaskRequest): ConstructorParameters<typeof RunTaskCommand>[0] {
    const environment: KeyValuePair[] = [
      { name: 'STRONGBOX_DATABASE', value: request.database },
      { name: 'STRONGBOX_TIER', value: request.tier },
      { name: 'STRONGBOX_BACKUP_ID', value: request.backupId },
    ];
    if (request.secretArn) environment.push({ name: 'STRONGBOX_SECRET_ARN', value: request.secretArn });
    if (request.compression) environment.push({ name: 'STRONGBOX_COMPRESSION', value: request.compression });
    if (request.dumpJobs !== undefined) environment.push({ name: 'STRONGBOX_DUMP_JOBS', value: String(request.dumpJobs) });
    if (request.type) environment.push({ name: 'STRONGBOX_BACKUP_TYPE', value: request.type });
    return {
      cluster: this.options.cluster,
      taskDefinition: this.options.taskDefinition,
      launchType: 'FARGATE',
      count: 1,
      clientToken: request.backupId,
      startedBy: 'strongbox-schedule',
      networkConfiguration: {
        awsvpcConfiguration: {
          subnets: this.options.subnets,
          securityGroups: this.options.securityGroups,
          assignPublicIp: this.options.assignPublicIp,
        },
      },
      overrides: request.compute
        ? {
            cpu: String(request.compute.cpu),
            memory: String(request.compute.memory),
            // The container's hard limit is the whole task's memory (deploy/ecs.yml).
            containerOverrides: [{ name: this.options.containerName, environment, memory: request.compute.memory }],
          }
        : { containerOverrides: [{ name: this.options.containerName, environment }] },
      tags: [
        { key: 'strongbox:backup-id', value: request.backupId },
        { key: 'strongbox:database', value: request.database },
      ],
    };
  }

  async launch(request: DumpTaskRequest): Promise<{ runner: string }> {
    let response;
    try {
      response = await this.client.send(new RunTaskCommand(this.commandInput(request)));
    } catch (error) {
      throw new TaskLaunchError(`ECS RunTask failed: ${(error as Error).message}`, 'check the cluster, task definition, subnets and the function\'s IAM role', {
        cause: error,
      });
    }
    const failure = response.failures?.[0];
    const task = response.tasks?.[0];
    if (failure || !task?.taskArn) {
      throw new TaskLaunchError(
        `ECS could not start the dump task: ${failure?.reason ?? 'no task returned'}${failure?.detail ? ` (${failure.detail})` : ''}`,
        'check Fargate capacity, the subnets and security groups, and the image URI',
      );
    }
    return { runner: task.taskArn };
  }
}
