package controller

import "sync"

// databaseLocks serialises applies to one database inside this process, so
// two migrations on the same database never apply at once while migrations
// on different databases proceed in parallel. The database's own lock
// (advisory lock, GET_LOCK, exclusive transaction) guards across processes.
type databaseLocks struct {
	mu    sync.Mutex
	locks map[string]*sync.Mutex
}

// TryLock takes the lock of the database key without waiting, so a worker is
// never parked behind a long apply: the caller requeues when it is busy.
func (l *databaseLocks) TryLock(key string) (unlock func(), ok bool) {
	l.mu.Lock()
	if l.locks == nil {
		l.locks = map[string]*sync.Mutex{}
	}
	m, found := l.locks[key]
	if !found {
		m = &sync.Mutex{}
		l.locks[key] = m
	}
	l.mu.Unlock()
	if !m.TryLock() {
		return nil, false
	}
	return m.Unlock, true
}
