// Devices: every device with its status (colour and word), last seen and
// firmware, kept current by the scene feed; a form to create one (with the
// sim://marlin example); connect / disconnect for those who may. A device's
// own page (DevicePage) has the terminal, readings, chart and file transfers.

import { useQueryClient } from '@tanstack/react-query'
import { useEffect, useState } from 'react'
import { Link, Route, Routes, useNavigate } from 'react-router'
import { mapPage, usePageOffset } from '../../api/paging'
import { useScene } from '../../api/scene-feed'
import { allows, useSession } from '../../api/session'
import type { Device } from '../../api/types'
import { formatAgo } from '../../ui/format'
import { QueryState } from '../../ui/Loading'
import { Pager } from '../../ui/Pager'
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

/**
 * One page of the list with the scene feed's status and last seen laid over it;
 * a device added or removed elsewhere (the scene's count differs from the
 * list's total) refetches it.
 */
function useLiveDevices(offset: number) {
  const devices = useDevices(offset)
  const scene = useScene()
  const client = useQueryClient()
  const live = scene.data?.devices
  const total = devices.data?.total
  const sceneCount = live?.length
  useEffect(() => {
    if (total !== undefined && sceneCount !== undefined && total !== sceneCount) {
      void client.invalidateQueries({ queryKey: [...devicesKey, 'list'] })
    }
  }, [total, sceneCount, client])
  if (!devices.data || !live) return devices
  const byId = new Map(live.map((d) => [d.id, d]))
  const data = mapPage(devices.data, (d): Device => {
    const s = byId.get(d.id)
    if (!s) return d
    const lastSeen = s.lastSeen && (!d.lastSeen || s.lastSeen > d.lastSeen) ? s.lastSeen : d.lastSeen
    return { ...d, status: s.status as Device['status'], lastSeen }
  })
  return { ...devices, data }
}

function DeviceList() {
  const { me } = useSession()
  const [offset, setOffset] = usePageOffset()
  const devices = useLiveDevices(offset)
  const scene = useScene()
  const create = useCreateDevice()
  const navigate = useNavigate()
  const [creating, setCreating] = useState(false)
  const canOperate = allows(me?.role, 'operator')
  const list = devices.data?.items ?? []
  // Over every device, not just this page: the scene feed carries them all.
  const connected = scene.data?.devices.filter((d) => d.status === 'connected').length

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
              <dd>{devices.data.total}</dd>
            </div>
            <div>
              <dt>Connected</dt>
              <dd>{connected ?? '—'}</dd>
            </div>
          </dl>
          {devices.data.total === 0 ? (
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
          <Pager what="devices" page={devices.data} onOffset={setOffset} />
        </>
      )}
    </section>
  )
}
