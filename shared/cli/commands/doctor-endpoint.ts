import { asStrongboxError, StrongboxError } from '../../errors';
import type { EndpointProbe } from '../../usecases/doctor';
import { createAuthorizer } from '../../wal-host/auth';
import { ArchiveClient } from '../../wal-host/client';
import { loadHostConfig, type HostConfig } from '../../wal-host/config';
import { HttpAgents, send } from '../../wal-host/http';

/**
 * The doctor's view of the archive endpoint a host config (`wal.json`) names, through the
 * same client and credentials wal-push uses. Never throws: an unreadable config makes a
 * probe that reports it.
 */
export async function endpointProbeFromHostConfig(configPath: string, database: string): Promise<EndpointProbe> {
  let config: HostConfig;
  try {
    config = loadHostConfig({ flag: configPath });
  } catch (error) {
    const reason = asStrongboxError(error).message;
    return { url: configPath, health: async () => ({ reachable: false, detail: reason }), fetchProbe: async () => reason };
  }
  const client = new ArchiveClient({ ...config, database });
  const authorize = createAuthorizer(config);
  return {
    url: config.endpoint,
    async health() {
      try {
        const url = new URL('v1/health', config.endpoint.endsWith('/') ? config.endpoint : `${config.endpoint}/`);
        const headers = await authorize({ method: 'GET', url, headers: {} });
        const result = await send({ method: 'GET', url, headers, timeoutMs: Math.min(config.timeoutMs, 10_000), maxBytes: 64 * 1024, agents: new HttpAgents() });
        const body = JSON.parse(result.body.toString('utf8') || '{}') as { ok?: boolean; mode?: string; version?: string };
        if (result.status !== 200 || body.ok !== true) return { reachable: false, detail: `GET /v1/health answered HTTP ${result.status}` };
        // The identity route needs the credentials: a refused token shows here, not at the first push.
        await client.identity();
        return { reachable: true, detail: `Strongbox ${body.version ?? '?'}, ${body.mode ?? '?'} mode, credentials accepted` };
      } catch (error) {
        return { reachable: false, detail: asStrongboxError(error).message };
      }
    },
    async fetchProbe(name) {
      try {
        await client.prepareFetch(name);
        return 'found';
      } catch (error) {
        if (error instanceof StrongboxError && error.code === 'WAL_NOT_FOUND') return 'missing';
        return asStrongboxError(error).message;
      }
    },
  };
}
