package serve

import "time"

// SetCertCheckEvery changes how often TLSConfig's handshakes look for a
// renewed certificate, and returns a function that restores it.
func SetCertCheckEvery(d time.Duration) (restore func()) {
	old := certCheckEvery.Swap(int64(d))
	return func() { certCheckEvery.Store(old) }
}
