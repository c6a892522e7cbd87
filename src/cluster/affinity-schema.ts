// The API shape of a resource's nodeAffinity (agents, devices): a node name
// following MYNTRIX_NODE_NAME's rules, so it can always name a node that may
// exist, or null for any node. Each area says what the pin means for it.

import { Type } from '@sinclair/typebox'
import { NODE_NAME_PATTERN } from '../config/cluster.js'

export function nodeAffinitySchema(description: string) {
  return Type.Union(
    [
      Type.String({
        minLength: 1,
        maxLength: 128,
        pattern: NODE_NAME_PATTERN,
        description: 'a node name (MYNTRIX_NODE_NAME): letters, digits, ".", "_" or "-"',
      }),
      Type.Null(),
    ],
    { description },
  )
}
