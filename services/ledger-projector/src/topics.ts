/** The ledger projector's names on the platform: its service name and the topics it reads and writes. */
export const SERVICE_NAME = 'ledger-projector';
/** Screened events, the projector's input. */
export const INPUT_TOPIC = 'events.screened.v1';
/** BalanceChanged records, one per changed (wallet, asset). */
export const LEDGER_BALANCES_TOPIC = 'ledger.balances.v1';
/** The platform audit trail (release decisions go through the outbox). */
export const AUDIT_TOPIC = 'audit.v1';
