package config

// exampleSecrets returns the secrets gatehouse's own examples and documentation
// show (examples/secrets/, deploy/kubernetes/secret.example.yaml, README),
// so anyone knows them; a configuration that uses one gets a warning.
// TestExampleSecretsAreKnown scans the repository's example files and docs
// and fails when one shows a secret missing here.
func exampleSecrets() []string {
	return []string{
		"example-client-secret",
		"ZXhhbXBsZS1rZXktZXhhbXBsZS1rZXktZXhhbXBsZS0=",
		"replace-me",
		"replace-me-with-openssl-rand-base64-32",
		"MDEyMzQ1Njc4OWFiY2RlZg==", // README: the check-config example's short key
		"replace-me-with-openssl-rand-hex-32",
		"YOUR-CLIENT-SECRET",
		"gatehouse-test-secret", // internal/oidctest's default client
	}
}
