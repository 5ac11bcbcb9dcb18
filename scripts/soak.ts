import 'reflect-metadata';
import { runFaultScenario } from '../dev/fault-scenario';

/**
 * `npm run soak`: the randomised fault scenario of the tests over many seeds and longer runs. Prints the
 * faults injected and the violations per seed; exits 1 when any invariant broke. SOAK_SEEDS (default 20),
 * SOAK_OPERATIONS (default 80), SOAK_RATE (default 0.3), SOAK_FIRST_SEED (default 100).
 */
async function main(): Promise<void> {
  const seeds = Number(process.env.SOAK_SEEDS ?? 20);
  const first = Number(process.env.SOAK_FIRST_SEED ?? 100);
  const operations = Number(process.env.SOAK_OPERATIONS ?? 80);
  const rate = Number(process.env.SOAK_RATE ?? 0.3);
  const totals: Record<string, number> = {};
  let violations = 0;
  for (let seed = first; seed < first + seeds; seed++) {
    const result = await runFaultScenario({ seed, operations, rate });
    for (const [kind, n] of Object.entries(result.faults)) totals[kind] = (totals[kind] ?? 0) + n;
    violations += result.violations.length;
    console.log(`seed ${seed}: ${Object.values(result.faults).reduce((a, b) => a + b, 0)} faults, ${result.violations.length} violations`);
    for (const v of result.violations) console.log(`  ${v}`);
  }
  console.log(`faults injected: ${JSON.stringify(totals)} (${Object.values(totals).reduce((a, b) => a + b, 0)} in all)`);
  console.log(`violations: ${violations}`);
  process.exit(violations ? 1 : 0);
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
