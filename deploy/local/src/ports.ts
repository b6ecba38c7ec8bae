/**
 * The local infrastructure's ports, from the environment (PORT_SPECS): parsed, range-checked and
 * checked for collisions. Pure, unit tested through config.ts.
 */
import { PORT_SPECS, type PortName, type Ports } from './components.js';

export class PortConfigError extends Error {
  override name = 'PortConfigError';
}

/** Parses one port value from the environment. Empty/undefined means "use the default". */
export function parsePort(envName: string, raw: string | undefined, fallback: number): number {
  if (raw === undefined || raw.trim() === '') return fallback;
  const text = raw.trim();
  if (!/^\d+$/.test(text)) {
    throw new PortConfigError(`${envName}=${JSON.stringify(raw)} is not a port number (expected an integer 1-65535)`);
  }
  const port = Number(text);
  if (port < 1 || port > 65535) {
    throw new PortConfigError(`${envName}=${raw} is out of range (expected 1-65535)`);
  }
  return port;
}

/** All ports, from the environment with defaults; throws on invalid values and on two services sharing a port. */
export function resolvePorts(env: NodeJS.ProcessEnv = process.env): Ports {
  const ports = {} as Ports;
  for (const [name, spec] of Object.entries(PORT_SPECS) as [PortName, (typeof PORT_SPECS)[PortName]][]) {
    ports[name] = parsePort(spec.env, env[spec.env], spec.default_port);
  }
  const seen = new Map<number, PortName>();
  for (const [name, port] of Object.entries(ports) as [PortName, number][]) {
    const other = seen.get(port);
    if (other !== undefined) {
      throw new PortConfigError(`port ${port} is configured twice: ${PORT_SPECS[other].env} and ${PORT_SPECS[name].env} must differ`);
    }
    seen.set(port, name);
  }
  return ports;
}
