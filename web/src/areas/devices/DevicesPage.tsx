import { NotInConsole } from '../../ui/NotInConsole'

export default function DevicesPage() {
  return <NotInConsole area="Devices" api="/api/myntrix/devices" docs="docs/DEVICES.md" />
}
