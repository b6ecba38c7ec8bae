/** Plausible counterparty names per country (travel-rule originator / beneficiary data). */
import type { Counterparty } from './model.js';
import type { Rng } from './rng.js';

interface CountryNaming {
  stems: readonly string[];
  suffixes: readonly string[];
  people: readonly string[];
}

const NAMING: Readonly<Record<string, CountryNaming>> = {
  DE: {
    stems: ['Nordwind', 'Rheinblick', 'Alpenfels', 'Hanse Digital', 'Schwarzwald'],
    suffixes: ['GmbH', 'AG', 'Handels GmbH'],
    people: ['Jonas Becker', 'Lena Hoffmann', 'Felix Wagner'],
  },
  FR: {
    stems: ['Lumière', 'Bastide', 'Côte Azur', 'Vendôme'],
    suffixes: ['SAS', 'SA', 'SARL'],
    people: ['Camille Laurent', 'Hugo Moreau', 'Chloé Dubois'],
  },
  GB: {
    stems: ['Thames', 'Albion', 'Kestrel', 'Harbourside'],
    suffixes: ['Ltd', 'Capital Ltd', 'Holdings plc'],
    people: ['Oliver Hughes', 'Amelia Clarke', 'Harry Patel'],
  },
  US: {
    stems: ['Atlas', 'Granite Peak', 'Lakeshore', 'Redwood'],
    suffixes: ['LLC', 'Inc.', 'Partners LP'],
    people: ['Emily Johnson', 'Michael Brown', 'Sofia Garcia'],
  },
  CH: { stems: ['Matterhorn', 'Lemanic', 'Zugerberg'], suffixes: ['AG', 'SA', 'GmbH'], people: ['Luca Meier', 'Nina Keller'] },
  SG: { stems: ['Merlion', 'Straits', 'Orchard'], suffixes: ['Pte. Ltd.'], people: ['Wei Ling Tan', 'Arjun Nair'] },
  JP: { stems: ['Sakura', 'Fujimi', 'Kaigan'], suffixes: ['K.K.', 'Co., Ltd.'], people: ['Haruto Sato', 'Yui Suzuki'] },
  NL: { stems: ['Grachten', 'Zeeland', 'Oranje'], suffixes: ['B.V.', 'N.V.'], people: ['Daan de Vries', 'Sanne Jansen'] },
  AE: { stems: ['Falcon', 'Dune', 'Marina'], suffixes: ['FZE', 'LLC'], people: ['Omar Haddad', 'Layla Nasser'] },
  BR: { stems: ['Ipanema', 'Serra Verde', 'Atlântico'], suffixes: ['Ltda.', 'S.A.'], people: ['Lucas Silva', 'Beatriz Souza'] },
  KP: {
    stems: ['Chollima', 'Ryugyong', 'Taedong'],
    suffixes: ['Trading Corporation', 'General Bureau'],
    people: ['Kim Chol', 'Pak Song Il'],
  },
  IR: { stems: ['Persepolis', 'Zagros', 'Caspian'], suffixes: ['Trading Co.', 'Exchange'], people: ['Reza Ahmadi', 'Maryam Karimi'] },
  MM: { stems: ['Irrawaddy', 'Shwe', 'Mandalay'], suffixes: ['Co., Ltd.', 'Trading'], people: ['Aung Min', 'Thandar Win'] },
  SY: { stems: ['Levant', 'Orontes'], suffixes: ['Trading LLC'], people: ['Karim Haddad'] },
};

const FALLBACK: CountryNaming = { stems: ['Meridian', 'Horizon', 'Keystone'], suffixes: ['Ltd', 'Group'], people: ['Alex Morgan'] };

export const ORDINARY_COUNTRIES = ['DE', 'FR', 'GB', 'US', 'CH', 'SG', 'JP', 'NL', 'AE', 'BR'] as const;

export function randomCounterparty(rng: Rng, country: string): Counterparty {
  const naming = NAMING[country] ?? FALLBACK;
  const name = rng.chance(0.3) ? rng.pick(naming.people) : `${rng.pick(naming.stems)} ${rng.pick(naming.suffixes)}`;
  return { name, country };
}
