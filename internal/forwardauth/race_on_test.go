//go:build race

package forwardauth

// raceDetector: the race detector changes what allocates, so allocation
// counts mean nothing under it; make test runs the allocation tests once
// more without it.
const raceDetector = true
