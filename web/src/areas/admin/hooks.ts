import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query'
import { api, totalOf, unwrap } from '../../api/client'
import type { Role } from '../../api/types'

const usersKey = ['admin', 'users'] as const
const keysKey = ['admin', 'api-keys'] as const

export function useUsers(enabled: boolean) {
  return useQuery({
    queryKey: usersKey,
    enabled,
    queryFn: async () => unwrap(await api.GET('/api/auth/users', { params: { query: { limit: 1000 } } })),
  })
}

export function useCreateUser() {
  const client = useQueryClient()
  return useMutation({
    mutationFn: async (body: { username: string; password: string; role: Role }) =>
      unwrap(await api.POST('/api/auth/users', { body })),
    onSuccess: () => client.invalidateQueries({ queryKey: usersKey }),
  })
}

export function useUpdateUser() {
  const client = useQueryClient()
  return useMutation({
    mutationFn: async ({ id, ...body }: { id: string; role?: Role; disabled?: boolean; password?: string }) =>
      unwrap(await api.PUT('/api/auth/users/{id}', { params: { path: { id } }, body })),
    onSuccess: () => client.invalidateQueries({ queryKey: usersKey }),
  })
}

export function useApiKeys() {
  return useQuery({
    queryKey: keysKey,
    queryFn: async () => unwrap(await api.GET('/api/auth/api-keys', { params: { query: { limit: 1000 } } })),
  })
}

export function useCreateApiKey() {
  const client = useQueryClient()
  return useMutation({
    mutationFn: async (body: { name: string; expiresInDays?: number }) =>
      unwrap(await api.POST('/api/auth/api-keys', { body })),
    onSuccess: () => client.invalidateQueries({ queryKey: keysKey }),
  })
}

export function useRevokeApiKey() {
  const client = useQueryClient()
  return useMutation({
    mutationFn: async (id: string) =>
      unwrap(await api.DELETE('/api/auth/api-keys/{id}', { params: { path: { id } } })),
    onSuccess: () => client.invalidateQueries({ queryKey: keysKey }),
  })
}

export const AUDIT_PAGE = 50

export function useAudit(filter: { username: string; action: string }, offset: number) {
  return useQuery({
    queryKey: ['admin', 'audit', filter, offset],
    queryFn: async () => {
      const result = await api.GET('/api/auth/audit', {
        params: {
          query: {
            limit: AUDIT_PAGE,
            offset,
            ...(filter.username && { username: filter.username }),
            ...(filter.action && { action: filter.action }),
          },
        },
      })
      return { entries: unwrap(result), total: totalOf(result.response) }
    },
    placeholderData: (previous) => previous,
  })
}
