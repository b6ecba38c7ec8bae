/**
 * Contract with ingress: every body the simulator sends, in every profile, passes ingress's
 * own signature verification (with the profiles of services/ingress/config/providers.json)
 * and maps to a canonical event carrying exactly the simulator's facts. Catches drift
 * between the simulator and the ingress profiles before an end-to-end run would.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { PROVIDERS_FILE_DEFAULT, parseProfiles, resolveProvider } from '@tidemark/ingress';
import { formatFixed, parseUnits } from '../core/money.js';
import { loadSanctionsSnapshot } from '../adapters/files.js';
import { ScenarioGenerator } from '../core/generate.js';
import { PROVIDER_IDS, parseScenario } from '../core/scenario.js';
import { PROFILES, keysFromSecrets } from './profiles.js';
import { ASSETS } from '../core/assets.js';

const sanctions = loadSanctionsSnapshot();
const specs = parseProfiles(readFileSync(PROVIDERS_FILE_DEFAULT, 'utf8'));

describe.each(PROVIDER_IDS)('ingress accepts the simulator’s %s webhooks', (provider_id) => {
  it('signatures verify with ingress’s verifier and bodies map to the same facts', () => {
    const profile = PROFILES[provider_id];
    const spec = specs.find((s) => s.id === provider_id);
    expect(spec, `ingress has a ${provider_id} profile`).toBeDefined();
    expect(spec!.secrets_env).toBe(profile.secrets_env);
    const secret = profile.generateSecret();
    const provider = resolveProvider(spec!, { env: { [profile.secrets_env]: secret }, readFile: () => '' });
    const keys = keysFromSecrets(profile, secret);

    const scenario = parseScenario({
      name: 'contract',
      seed: 23,
      world: { providers: { [provider_id]: 1 } },
      traffic: { transactions: 300 },
      lifecycle: { detected_updates_max: 1 },
      amounts: { huge_rate: 0.05 },
    });
    const now_ms = Date.now();
    let count = 0;
    for (const { event } of new ScenarioGenerator(scenario, { start_ms: now_ms, namespace: 'ct', sanctions })) {
      const body = profile.body(event);
      const headers = profile.sign({ body, event, keys, timestamp_s: Math.floor(now_ms / 1000), sign_with_all: false });
      const lower = Object.fromEntries(Object.entries(headers).map(([k, v]) => [k.toLowerCase(), v]));
      const verified = provider.verifier.verify({
        headers: (name) => lower[name],
        body: Buffer.from(body),
        keys: provider.keys,
        now_ms,
        tolerance_s: provider.tolerance_s,
      });
      expect(verified, `${event.type} signature`).toMatchObject({ ok: true });

      const mapped = provider.mapper(JSON.parse(body), {
        provider: provider_id,
        ingress_id: 'i',
        received_at_ms: now_ms,
        body_sha256: '0'.repeat(64),
      });
      if (!mapped.ok) throw new Error(`${provider_id} ${event.type} did not map: ${mapped.message}`);
      expect(mapped.known_type).toBe(true);
      const c = mapped.event;
      expect(c.event_id).toBe(event.id);
      expect(c.event_type).toBe(event.type);
      expect(c.wallet_id).toBe(event.wallet_id);
      expect(c.customer_id).toBe(event.customer_id);
      expect(c.partition_key).toBe(event.wallet_id);
      // ledgerpay's `created` is whole seconds, the others carry milliseconds.
      expect(c.occurred_at_ms).toBe(provider_id === 'ledgerpay' ? Math.floor(event.occurred_at_ms / 1000) * 1000 : event.occurred_at_ms);
      if (event.type === 'kyc.status_changed') {
        expect(c.kyc_status).toBe(event.kyc_status);
      } else {
        const decimals = ASSETS[event.asset!].decimals;
        expect(c.transaction_id).toBe(event.transaction_id);
        expect(c.asset).toBe(event.asset);
        expect(c.network).toBe(event.network);
        expect(formatFixed(parseUnits(c.amount!, decimals), decimals)).toBe(event.amount);
        expect(c.confirmations).toBe(event.confirmations);
        expect(c.from_address).toBe(event.from_address);
        expect(c.to_address).toBe(event.to_address);
        expect(c.counterparty_name).toBe(event.counterparty?.name ?? null);
        expect(c.counterparty_country).toBe(event.counterparty?.country ?? null);
      }
      count++;
    }
    expect(count).toBeGreaterThan(600);
  });
});
