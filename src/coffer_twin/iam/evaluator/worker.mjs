// The twin's IAM evaluator: one JSON simulation per line in, one JSON verdict per line out.
//
// It runs @cloud-copilot/iam-simulate unmodified, in Strict mode (the request is evaluated exactly as given:
// a context key the request does not carry is absent, as in AWS). A verdict is
//   {"id": ..., "result": "Allowed" | "ExplicitlyDenied" | "ImplicitlyDenied" | "Error",
//    "denied_by": ["<policy>:<Sid or statement index>", ...], "ignored": [context keys the action cannot carry],
//    "errors": <validation errors, when result is Error>}
import { runSimulation } from '@cloud-copilot/iam-simulate'
import readline from 'node:readline'

function deniedBy(analysis) {
  const found = []
  const sources = {
    identity: analysis?.identityAnalysis,
    resource: analysis?.resourceAnalysis,
    boundary: analysis?.permissionBoundaryAnalysis,
  }
  for (const [name, part] of Object.entries(sources)) {
    for (const statement of part?.denyStatements ?? []) {
      found.push(`${name}:${statement.explain?.identifier ?? '?'}`)
    }
  }
  return found
}

async function verdict(simulation) {
  const response = await runSimulation(simulation, { simulationMode: 'Strict' })
  if (response.resultType === 'error') {
    return { result: 'Error', errors: response.errors, denied_by: [], ignored: [] }
  }
  const results = response.resultType === 'single' ? [response.result] : response.results
  return {
    result: response.overallResult,
    denied_by: results.flatMap((r) => deniedBy(r.analysis)),
    ignored: [...new Set(results.flatMap((r) => r.ignoredContextKeys ?? []))],
  }
}

const lines = readline.createInterface({ input: process.stdin, crlfDelay: Infinity })
for await (const line of lines) {
  if (!line.trim()) continue
  let id = null
  let answer
  try {
    const request = JSON.parse(line)
    id = request.id ?? null
    answer = await verdict(request.simulation)
  } catch (error) {
    answer = { result: 'Error', errors: { message: String(error?.stack ?? error) }, denied_by: [], ignored: [] }
  }
  process.stdout.write(JSON.stringify({ id, ...answer }) + '\n')
}
