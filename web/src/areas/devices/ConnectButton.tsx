// Connect or disconnect, with the server's refusal (the OS reason a port did not open) beside it.

import { toProblem } from '../../api/problem'
import type { Device } from '../../api/types'
import { ProblemView } from '../../ui/ProblemView'
import { useConnection } from './hooks'

export function ConnectButton({ device }: { device: Device }) {
  const connection = useConnection()
  const connected = device.status === 'connected' || device.status === 'connecting'
  return (
    <span className="actions">
      <button
        type="button"
        aria-label={`${connected ? 'Disconnect' : 'Connect'} ${device.name}`}
        disabled={connection.isPending}
        onClick={() => connection.mutate({ id: device.id, connect: !connected })}
      >
        {connection.isPending
          ? connected
            ? 'Disconnecting…'
            : 'Connecting…'
          : connected
            ? 'Disconnect'
            : 'Connect'}
      </button>
      {connection.error && <ProblemView problem={toProblem(connection.error)} />}
    </span>
  )
}
