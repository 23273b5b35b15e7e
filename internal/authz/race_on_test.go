//go:build race

package authz

// raceDetector: the race detector makes sync.Pool drop items at random,
// so regexp matching allocates and allocation counts mean nothing; make
// test runs the allocation tests once more without it.
const raceDetector = true
