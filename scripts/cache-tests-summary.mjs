// Summarises a cache-tests results file (the CLI's JSON output) the way
// cache-tests.fyi classifies results: per test kind (required, optimal,
// check), per suite, and lists failures. Run from a cache-tests checkout:
//
//	node scripts/cache-tests-summary.mjs /path/to/cache-tests results.json [--markdown]
//
// Used by scripts/cache-tests; see middleware/CONFORMANCE.md.
import fs from 'fs'
import path from 'path'
import { pathToFileURL } from 'url'

const [suiteDir, resultsFile, ...flags] = process.argv.slice(2)
const imp = p => import(pathToFileURL(path.join(path.resolve(suiteDir), p)).href)
const tests = (await imp('tests/index.mjs')).default
const { determineTestResult, resultTypes } = await imp('test-engine/lib/results.mjs')
const results = JSON.parse(fs.readFileSync(resultsFile, 'utf8'))

const names = Object.fromEntries(Object.entries(resultTypes).map(([k, v]) => [v[2], k]))
const total = {}
const bySuite = []
const failures = []
for (const suite of tests) {
  const counts = {}
  for (const test of suite.tests) {
    const kind = test.kind || 'required'
    const r = names[determineTestResult(tests, test.id, results)[2]]
    const k = `${kind}:${r}`
    counts[k] = (counts[k] || 0) + 1
    total[k] = (total[k] || 0) + 1
    if (!['pass', 'yes', 'untested'].includes(r)) {
      const detail = Array.isArray(results[test.id]) ? results[test.id].join(': ') : String(results[test.id])
      failures.push({ suite: suite.id, id: test.id, kind, result: r, detail })
    }
  }
  bySuite.push({ suite: suite.id, counts })
}

// cell is "passed/run" for a kind (browser-only tests, never run against a
// proxy, are left out), then what kept the others from passing: failed,
// setup (the test's precondition did not hold) and dependency (a test it
// depends on did not pass) failures.
const cell = (c, kind) => {
  const n = t => c[`${kind}:${t}`] || 0
  const run = Object.entries(c).filter(([k]) => k.startsWith(kind + ':') && !k.endsWith(':untested')).reduce((a, [, v]) => a + v, 0)
  if (!run) return ''
  if (kind === 'check') return `${n('yes')} yes / ${n('no')} no` + (run - n('yes') - n('no') ? ` / ${run - n('yes') - n('no')} setup/dep` : '')
  const why = [[n('fail') + n('optional_fail'), 'failed'], [n('setup_fail'), 'setup'], [n('dependency_fail'), 'dep'], [n('harness_fail'), 'harness']]
    .filter(([v]) => v).map(([v, w]) => `${v} ${w}`)
  return `${n('pass')}/${run}` + (why.length ? ` (${why.join(', ')})` : '')
}
if (flags.includes('--markdown')) {
  console.log('| suite | required passed | optional passed | checks |')
  console.log('|---|---|---|---|')
  for (const s of bySuite) console.log(`| ${s.suite} | ${cell(s.counts, 'required')} | ${cell(s.counts, 'optimal')} | ${cell(s.counts, 'check')} |`)
  console.log(`| **total** | **${cell(total, 'required')}** | **${cell(total, 'optimal')}** | ${cell(total, 'check')} |`)
  console.log('\n| test | kind | result | detail |')
  console.log('|---|---|---|---|')
  for (const f of failures) console.log(`| ${f.id} | ${f.kind} | ${f.result} | ${f.detail.replace(/\|/g, '\\|').slice(0, 160)} |`)
} else {
  console.log(JSON.stringify(total, null, 1))
  for (const f of failures) console.log(`${f.kind}\t${f.result}\t${f.id}\t${f.detail.slice(0, 160)}`)
}
