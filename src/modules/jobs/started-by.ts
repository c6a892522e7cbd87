// Who started a job, as the ledger records it (`jobs.started_by`): the user
// behind a session or token, the API key a script used (its own id, so a
// leaked key's work can be told from its owner's), or the server's own
// starters. One text value, so the statistics group by it directly.

import type { Principal } from '../../auth/principal.js'

export const STARTED_BY_SCHEDULER = 'scheduler'
/** A device or device-group queue dispatching its next item. */
export const STARTED_BY_QUEUE = 'queue'

/** `api-key:<keyId>` for a myx_ key, else `user:<userId>`. */
export function startedByOf(principal: Principal): string {
  const credential = principal.credential
  if (principal.via === 'api-key' && credential && 'apiKeyId' in credential) {
    return `api-key:${credential.apiKeyId}`
  }
  return `user:${principal.id}`
}
