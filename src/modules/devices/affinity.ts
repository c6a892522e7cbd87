// A device's nodeAffinity (docs/DEVICES.md, docs/SCALE-OUT.md): the node name
// whose host has the device's port, or null for any node. It changes only
// while the device is not meant to be connected: a connected device is held
// by a node under a lease, and moving the pin under it would leave it open
// where it may no longer be (or close it as a side effect of an edit).

import { type Expression, type SqlBool, sql } from 'kysely'
import { toDbBool } from '../../db/values.js'
import { ConflictError } from '../../errors.js'
import type { Device } from './types.js'

/** 409 when the device is meant to be connected, or its link is open (or opening) on this node. */
export function assertAffinityChangeable(device: Device, openHere: boolean): void {
  if (device.desiredConnected || openHere) {
    throw new ConflictError(
      `device ${device.id} is ${device.desiredConnected ? 'meant to be connected' : device.status}; ` +
        'disconnect it before changing its nodeAffinity',
    )
  }
}

/** The write's guard: the row is not meant to be connected (a connect sets it first). */
export function notMeantToBeConnected(): Expression<SqlBool> {
  return sql<SqlBool>`desired_connected = ${toDbBool(false)}`
}
