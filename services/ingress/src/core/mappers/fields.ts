/** zod building blocks shared by the payload mappers: typed, length-limited, null-tolerant. */
import { z } from 'zod';

export const ID_LENGTH_MAX = 256;

/**
 * `schema`, or null when the field is absent or null. (`.nullable().default(null)` rather than
 * `.nullish().transform((v) => v ?? null)`: the same accepted values and result, without a
 * pipe and a transform step per field and request.)
 */
export function orNull<T extends z.ZodType>(schema: T) {
  return schema.nullable().default(null);
}
export const TEXT_LENGTH_MAX = 512;

/** A provider id-like string: 1..256 printable characters. */
export const idString = z
  .string()
  .min(1)
  .max(ID_LENGTH_MAX)
  .regex(/^[\x21-\x7e]+$/, 'must be printable ASCII without spaces');
export const optionalId = orNull(idString);
export const optionalText = orNull(z.string().max(TEXT_LENGTH_MAX));
/** Money arrives as a string; a JSON number is refused here so precision is never lost. */
export const amountString = z.string({ error: 'amount must be a decimal string, not a number' }).max(100);
export const optionalAmount = orNull(amountString);
export const eventType = z
  .string()
  .min(1)
  .max(128)
  .regex(/^[A-Za-z0-9._:-]+$/, 'must be letters, digits, ".", "_", ":" or "-"');
export const country = z.string().regex(/^[A-Za-z]{2}$/, 'must be an ISO 3166-1 alpha-2 code');
export const confirmations = orNull(z.number().int().min(0).max(2_147_483_647));
/** An optional short code (asset, network, status) of 1..`length_max` characters. */
export function optionalCode(length_max: number) {
  return orNull(z.string().min(1).max(length_max));
}
/** An optional `{ name, country }` counterparty, as generic and ledgerpay send it. */
export const optionalCounterparty = orNull(z.object({ name: optionalText, country: orNull(country) }));
/** The canonical counterparty fields of an `optionalCounterparty`. */
export function counterpartyFields(counterparty: z.infer<typeof optionalCounterparty>) {
  return { counterparty_name: counterparty?.name ?? null, counterparty_country: counterparty?.country ?? null };
}
/** ISO-8601 with an explicit offset or Z, to milliseconds since the epoch. */
export const isoTime = z.iso.datetime({ offset: true }).transform((s) => Date.parse(s));

/** Renders zod issues as one line naming each bad field, without echoing values. */
export function describeIssues(error: z.ZodError): string {
  return error.issues
    .slice(0, 5)
    .map((issue) => `${issue.path.length > 0 ? issue.path.join('.') : 'body'}: ${issue.message}`)
    .join('; ');
}
