//go:build !race

package authz

const raceDetector = false
