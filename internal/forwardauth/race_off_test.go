//go:build !race

package forwardauth

const raceDetector = false
