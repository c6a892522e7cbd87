// Devices: every device with its status (colour and word), last seen and
// firmware, kept current by the scene feed; a form to create one (with the
// sim://marlin example); connect / disconnect for those who may. A device's
// own page (DevicePage) has the terminal, readings, chart and file transfers.

import { useQueryClient } from '@tanstack/react-query'
import { useEffect, useState } from 'react'
import { Link, Route, Routes, useNavigate } from 'react-router'
import { useScene } from '../../api/scene-feed'
import { allows, useSession } from '../../api/session'
import type { Device } from '../../api/types'
import { formatAgo } from '../../ui/format'
import { QueryState } from '../../ui/Loading'
import { StatusDot } from '../../ui/StatusDot'
import '../pages.css'
import { ConnectButton } from './ConnectButton'
import { DeviceForm, EMPTY_DEVICE } from './DeviceForm'
import DevicePage from './DevicePage'
import { devicesKey, useCreateDevice, useDevices } from './hooks'

export default function DevicesPage() {
  return (
    <Routes>
      <Route index element={<DeviceList />} />
      <Route path=":id" element={<DevicePage />} />
    </Routes>
  )
}

/** The list with the scene feed's status and last seen laid over it; a device added or removed elsewhere refetches it. */
function useLiveDevices() {
  const devices = useDevices()
  const scene = useScene()
  const client = useQueryClient()
  const live = scene.data?.devices
  const listIds = devices.data
    ?.map((d) => d.id)
    .sort()
    .join(',')
  const sceneIds = live
    ?.map((d) => d.id)
    .sort()
    .join(',')
  useEffect(() => {
    if (listIds !== undefined && sceneIds !== undefined && listIds !== sceneIds) {
      void client.invalidateQueries({ queryKey: [...devicesKey, 'list'] })
    }
  }, [listIds, sceneIds, client])
  if (!devices.data || !live) return devices
  const byId = new Map(live.map((d) => [d.id, d]))
  const data = devices.data.map((d): Device => {
    const s = byId.get(d.id)
    if (!s) return d
    const lastSeen = s.lastSeen && (!d.lastSeen || s.lastSeen > d.lastSeen) ? s.lastSeen : d.lastSeen
    return { ...d, status: s.status as Device['status'], lastSeen }
  })
  return { ...devices, data }
}

function DeviceList() {
  const { me } = useSession()
  const devices = useLiveDevices()
  const create = useCreateDevice()
  const navigate = useNavigate()
  const [creating, setCreating] = useState(false)
  const canOperate = allows(me?.role, 'operator')
  const list = devices.data ?? []
  const connected = list.filter((d) => d.status === 'connected').length

  return (
    <section aria-labelledby="page-title">
      <div className="page-head">
        <h1 id="page-title">Devices</h1>
        {canOperate && !creating && (
          <button type="button" className="primary" onClick={() => setCreating(true)}>
            New device
          </button>
        )}
      </div>
      {creating && (
        <section className="card" aria-labelledby="new-device-title">
          <h2 id="new-device-title">New device</h2>
          <DeviceForm
            initial={EMPTY_DEVICE}
            submitLabel="Create device"
            busy={create.isPending}
            error={create.error}
            onCancel={() => {
              create.reset()
              setCreating(false)
            }}
            onSubmit={(body) =>
              create.mutate(body, {
                onSuccess: (device) => {
                  setCreating(false)
                  navigate(`/devices/${device.id}`)
                },
              })
            }
          />
        </section>
      )}
      {!devices.data ? (
        <QueryState what="devices" error={devices.error} />
      ) : (
        <>
          <dl className="stats">
            <div>
              <dt>Total devices</dt>
              <dd>{list.length}</dd>
            </div>
            <div>
              <dt>Connected</dt>
              <dd>{connected}</dd>
            </div>
          </dl>
          {list.length === 0 ? (
            <p className="muted">No devices yet.{canOperate && ' Create one with “New device”.'}</p>
          ) : (
            <table className="table">
              <caption className="sr-only">Devices</caption>
              <thead>
                <tr>
                  <th scope="col">Name</th>
                  <th scope="col">Type</th>
                  <th scope="col">Connection</th>
                  <th scope="col">Status</th>
                  <th scope="col">Last seen</th>
                  <th scope="col">Firmware</th>
                  {canOperate && <th scope="col">Actions</th>}
                </tr>
              </thead>
              <tbody>
                {list.map((d) => (
                  <tr key={d.id}>
                    <th scope="row">
                      <Link to={`/devices/${d.id}`}>{d.name}</Link>
                    </th>
                    <td>
                      <span className="badge">{d.type.toUpperCase()}</span>
                    </td>
                    <td>
                      <code>{d.connectionString}</code>
                    </td>
                    <td title={d.lastError ?? undefined}>
                      <StatusDot status={d.status} />
                    </td>
                    <td title={d.lastSeen ? new Date(d.lastSeen).toLocaleString() : undefined}>
                      {formatAgo(d.lastSeen)}
                    </td>
                    <td>{d.firmwareVersion ?? '—'}</td>
                    {canOperate && (
                      <td>
                        <ConnectButton device={d} />
                      </td>
                    )}
                  </tr>
                ))}
              </tbody>
            </table>
          )}
        </>
      )}
    </section>
  )
}
