package backend

import "context"

// EvictionReporter is implemented by backends whose servers may evict keys
// under memory pressure (Redis maxmemory-policy). memo asks it at
// construction and warns about, or refuses, an evicting server.
type EvictionReporter interface {
	// EvictionPolicies returns the memory settings of every server behind
	// the backend (every master of a Cluster, every shard of a Ring).
	EvictionPolicies(ctx context.Context) ([]EvictionPolicy, error)
}

// EvictionPolicy is one server's memory settings.
type EvictionPolicy struct {
	Addr      string // the server's address
	Policy    string // maxmemory-policy
	MaxMemory string // maxmemory in bytes; "0" means no limit
	// Err is set when the server did not say; Refused, when it refused the
	// question (managed Redis often forbids CONFIG).
	Err     error
	Refused bool
}

// Evicts reports whether the server may evict keys: a memory limit and a
// policy other than noeviction.
func (p EvictionPolicy) Evicts() bool {
	return p.Err == nil && p.Policy != "" && p.Policy != "noeviction" && p.MaxMemory != "" && p.MaxMemory != "0"
}
