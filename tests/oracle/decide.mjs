// Test oracle: decides IAM requests with @cloud-copilot/iam-simulate (AGPL-3.0-or-later), a separate program that
// the test suite runs as a subprocess. Nothing shipped imports it; see README.md.
//
// stdin: {documents: [policy document], cases: [case]}, each case
//   {id, request: {action, resource, principal, context}, policies: {identity: [doc], boundary: doc|null,
//    session: [doc]|null, scps: [[doc]]|null, rcps: [[doc]]|null, resource: doc|null, resource_account: "..."}}
// where every `doc` is an index into `documents` (each distinct document is sent, and parsed, once).
// where `request.principal` is the string iam-simulate knows the caller by: an IAM role ARN, an assumed-role
// session ARN, an OIDC provider ARN (web identity) or a service principal ("events.amazonaws.com").
// stdout: a JSON array, one {id, allowed, result, blockedBy, scp, rcp, identity, boundary, session, resource}
// per case, in order.
//
// We call the simulator's core engine (`authorize`), not `runSimulation`: runSimulation rejects actions and
// resource ARNs that its IAM data does not list (our corpus has near-miss actions on purpose), drops context keys
// it does not associate with the action, and expands wildcard resources into several simulations. The core engine
// evaluates exactly the request and context it is given, which is what scps.evaluate.decide is asked to do.
import { readFileSync } from 'node:fs'
// Deep imports by path: the package's `exports` map publishes only runSimulation; the core engine is internal API,
// which is why package-lock.json pins the exact version.
import { loadPolicy } from '@cloud-copilot/iam-policy'
import { authorize } from './node_modules/@cloud-copilot/iam-simulate/dist/esm/core_engine/CoreSimulatorEngine.js'
import { DiscoveryContextKeyConstraints } from './node_modules/@cloud-copilot/iam-simulate/dist/esm/context_keys/discoveryContextKeyConstraints.js'
import { AwsRequestImpl } from './node_modules/@cloud-copilot/iam-simulate/dist/esm/request/request.js'
import { RequestContextImpl } from './node_modules/@cloud-copilot/iam-simulate/dist/esm/requestContext.js'

const input = JSON.parse(readFileSync(0, 'utf8'))
const loaded = new Map()
// Policies by index, parsed once; `name` only labels explanations.
const load = (i) => {
  if (!loaded.has(i)) loaded.set(i, loadPolicy(input.documents[i], { name: `document-${i}` }))
  return loaded.get(i)
}

function levels(list, kind) {
  if (list === null || list === undefined) return []
  return list.map((docs, i) => ({
    orgIdentifier: `${kind}-level-${i}`,
    policies: docs.map((doc) => load(doc))
  }))
}

function decide(c) {
  const { request, policies } = c
  const req = new AwsRequestImpl(
    request.principal,
    { resource: request.resource, accountId: policies.resource_account },
    request.action,
    new RequestContextImpl(request.context)
  )
  const session = policies.session
  const analysis = authorize({
    request: req,
    // The spec allows several session policies; AWS evaluates them as one (at most one inline policy plus
    // managed policy ARNs, together one session policy), so we merge their statements.
    sessionPolicy:
      session === null || session === undefined
        ? undefined
        : loadPolicy(
            {
              Version: '2012-10-17',
              Statement: session.flatMap((i) => [input.documents[i].Statement].flat())
            },
            { name: 'session' }
          ),
    identityPolicies: policies.identity.map(load),
    serviceControlPolicies: levels(policies.scps, 'scp'),
    resourceControlPolicies: levels(policies.rcps, 'rcp'),
    resourcePolicy: policies.resource === null ? undefined : load(policies.resource),
    permissionBoundaries: policies.boundary === null ? undefined : [load(policies.boundary)],
    vpcEndpointPolicies: undefined,
    simulationParameters: {
      simulationMode: 'Strict',
      discoveryContextKeyConstraints: new DiscoveryContextKeyConstraints([])
    },
    serviceSettings: { s3: {} }
  })
  return {
    id: c.id,
    allowed: analysis.result === 'Allowed',
    result: analysis.result,
    blockedBy: analysis.blockedBy ?? [],
    scp: analysis.scpAnalysis?.result,
    rcp: analysis.rcpAnalysis?.result,
    identity: analysis.identityAnalysis?.result,
    boundary: analysis.permissionBoundaryAnalysis?.result,
    session: analysis.sessionAnalysis?.result,
    resource: analysis.resourceAnalysis?.result
  }
}

const out = []
for (const c of input.cases) {
  try {
    out.push(decide(c))
  } catch (e) {
    out.push({ id: c.id, error: String(e && e.stack ? e.stack : e) })
  }
}
process.stdout.write(JSON.stringify(out))
