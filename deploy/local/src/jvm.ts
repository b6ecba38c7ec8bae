/** The JVM command line our Java processes (Kafka, Apicurio Registry) share. Pure. */

export interface JvmArgsInput {
  heap_mib: number;
  marker: string;
}

/** JVM flags shared by our Java processes; `-Dtidemark.state=` tags the process so we can find it again. */
export function commonJvmArgs(input: JvmArgsInput): string[] {
  return [
    `-Xmx${input.heap_mib}m`,
    '-XX:+UseG1GC',
    '-XX:MaxGCPauseMillis=20',
    '-XX:+ExplicitGCInvokesConcurrent',
    '-XX:+ExitOnOutOfMemoryError',
    '-Djava.awt.headless=true',
    `-Dtidemark.state=${input.marker}`,
  ];
}
