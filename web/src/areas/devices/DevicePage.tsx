// One device: status and why, its connection and firmware, connect /
// disconnect, live readings and charts, the terminal with the wire log, files
// and transfers, and its configuration (editable by those who may).

import { useState } from 'react'
import { Link, useNavigate, useParams } from 'react-router'
import { toProblem } from '../../api/problem'
import { allows, useSession } from '../../api/session'
import { ConfirmDialog } from '../../ui/ConfirmDialog'
import { formatAgo, formatTime } from '../../ui/format'
import { QueryState } from '../../ui/Loading'
import { StatusDot } from '../../ui/StatusDot'
import { ConnectButton } from './ConnectButton'
import { DeviceForm, formFromDevice } from './DeviceForm'
import { Files } from './Files'
import { useDeleteDevice, useDevice, useDeviceFeed, useTelemetry, useUpdateDevice } from './hooks'
import { Queue } from './Queue'
import { Readings } from './Readings'
import { Terminal } from './Terminal'

export default function DevicePage() {
  const { id = '' } = useParams()
  const { me } = useSession()
  const device = useDevice(id)
  const telemetry = useTelemetry(id)
  const feed = useDeviceFeed(id)
  const update = useUpdateDevice(id)
  const remove = useDeleteDevice()
  const navigate = useNavigate()
  const [editing, setEditing] = useState(false)
  const [deleting, setDeleting] = useState(false)
  const canOperate = allows(me?.role, 'operator')

  if (!device.data) {
    return (
      <section aria-labelledby="page-title">
        <h1 id="page-title">Device</h1>
        <QueryState what="the device" error={device.error} />
        <p>
          <Link to="/devices">All devices</Link>
        </p>
      </section>
    )
  }
  const d = device.data
  const config = d.configuration as Record<string, unknown>
  return (
    <section aria-labelledby="page-title">
      <p className="crumbs">
        <Link to="/devices">Devices</Link> /
      </p>
      <div className="page-head">
        <h1 id="page-title">{d.name}</h1>
        <StatusDot status={d.status} />
        {canOperate && <ConnectButton device={d} />}
        {canOperate && (
          <button
            type="button"
            className="danger"
            aria-label={`Delete ${d.name}`}
            onClick={() => {
              remove.reset()
              setDeleting(true)
            }}
          >
            Delete
          </button>
        )}
      </div>
      {d.lastError && <p className="field-error">{d.lastError}</p>}
      <div className="cards">
        <section className="card" aria-labelledby="facts-title">
          <h2 id="facts-title">Connection</h2>
          <dl className="facts">
            <dt>Type</dt>
            <dd>{d.type.toUpperCase()}</dd>
            <dt>Connection string</dt>
            <dd>
              <code>{d.connectionString}</code>
            </dd>
            <dt>Protocol</dt>
            <dd>{typeof config.protocol === 'string' ? config.protocol : 'default'}</dd>
            <dt>Firmware</dt>
            <dd>{d.firmwareVersion ?? '—'}</dd>
            <dt>Last seen</dt>
            <dd title={formatTime(d.lastSeen)}>{formatAgo(d.lastSeen)}</dd>
          </dl>
        </section>
      </div>
      {!telemetry.data ? (
        <QueryState what="telemetry" error={telemetry.error} />
      ) : (
        <Readings samples={telemetry.data} status={d.status} />
      )}
      <Terminal
        deviceId={d.id}
        log={feed.log}
        feed={feed.state}
        canCommand={canOperate}
        connected={d.status === 'connected'}
        onClear={feed.clearLog}
      />
      <Files deviceId={d.id} canOperate={canOperate} />
      <Queue deviceId={d.id} canOperate={canOperate} />
      <section className="card" aria-labelledby="config-title">
        <div className="page-head">
          <h2 id="config-title">Configuration</h2>
          {canOperate && !editing && (
            <button type="button" onClick={() => setEditing(true)}>
              Edit
            </button>
          )}
        </div>
        {editing ? (
          <DeviceForm
            initial={formFromDevice(d)}
            submitLabel="Save"
            busy={update.isPending}
            error={update.error}
            onCancel={() => {
              update.reset()
              setEditing(false)
            }}
            onSubmit={(body) => update.mutate(body, { onSuccess: () => setEditing(false) })}
          />
        ) : (
          <pre className="mono">{JSON.stringify(config, null, 2)}</pre>
        )}
        {editing && d.status === 'connected' && (
          <p className="muted">Disconnect first to change the connection string or settings.</p>
        )}
      </section>
      <ConfirmDialog
        open={deleting}
        title="Delete device"
        confirmLabel="Delete"
        danger
        busy={remove.isPending}
        problem={remove.error ? toProblem(remove.error) : null}
        onCancel={() => setDeleting(false)}
        onConfirm={() =>
          remove.mutate(d.id, {
            onSuccess: () => {
              setDeleting(false)
              navigate('/devices')
            },
          })
        }
      >
        <p>Delete {d.name}? It is disconnected first; its stored files go with it.</p>
      </ConfirmDialog>
    </section>
  )
}
