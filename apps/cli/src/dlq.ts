/** `tidemark dlq ...`: thin wrapper over the stream runtime's DLQ operations. */
export async function dlqCommand(action: 'list' | 'show' | 'replay' | 'purge', opts: Record<string, unknown>): Promise<number> {
  try {
    const stream = (await import('@tidemark/stream')) as unknown as {
      dlqCli?: (action: string, opts: Record<string, unknown>) => Promise<number>;
    };
    if (typeof stream.dlqCli !== 'function') {
      console.error('dlq: the stream runtime does not export dlqCli');
      return 2;
    }
    return await stream.dlqCli(action, opts);
  } catch (err) {
    console.error(`dlq ${action} could not run: ${(err as Error).message}`);
    return 2;
  }
}
