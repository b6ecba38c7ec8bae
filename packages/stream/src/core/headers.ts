/**
 * The names of the headers the retry ladder and the DLQ operations put on the records they write (the
 * record's source, its attempts, when it is due, its last error, its rung, and where a replay came from).
 * Part of the wire contract: consumers of the retry and DLQ topics read them.
 */
export const H_SOURCE_TOPIC = 'tidemark-source-topic';
export const H_SOURCE_PARTITION = 'tidemark-source-partition';
export const H_SOURCE_OFFSET = 'tidemark-source-offset';
/** Attempts already made (0 for a record that followed its key into the ladder unprocessed). */
export const H_ATTEMPT = 'tidemark-attempt';
export const H_DUE_AT_MS = 'tidemark-due-at-ms';
export const H_FIRST_FAILURE_AT_MS = 'tidemark-first-failure-at-ms';
export const H_LAST_ERROR = 'tidemark-last-error';
export const H_RUNG = 'tidemark-rung';
/** Set on records an operator replayed from a DLQ: `<dlq topic>/<partition>/<offset>`. */
export const H_REPLAY_OF = 'tidemark-replay-of';
/** Set on replayed records: the replayed record's original source `<topic>/<partition>/<offset>`. */
export const H_REPLAY_SOURCE = 'tidemark-replay-source';
