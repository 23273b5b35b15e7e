package config

import (
	"fmt"
	"reflect"

	"github.com/gatehouse/gatehouse/internal/authz"
	"github.com/gatehouse/gatehouse/internal/limitedfile"
)

// Policy returns the access policy: the snapshot Load compiled, or, for a
// Config that Load did not return, the access section (and its
// access.policy_file) compiled now. The error, when it is about the
// content, is an Errors naming every problem.
func (c *Config) Policy() (*authz.Policy, error) {
	if c.policy != nil {
		return c.policy, nil
	}
	_, p, errs := c.compileAccess()
	if len(errs) > 0 {
		return nil, errs
	}
	return p, nil
}

// LoadPolicy builds the current policy: from access.policy_file, read
// again, when it is set (for hot reload), else as Policy does.
func (c *Config) LoadPolicy() (*authz.Policy, error) {
	if c.Access.PolicyFile == "" {
		return c.Policy()
	}
	data, err := ReadPolicyFile(c.Access.PolicyFile)
	if err != nil {
		return nil, err
	}
	p, err := c.PolicyFromFile(data)
	if err != nil {
		return nil, fmt.Errorf("policy file %s: %w", c.Access.PolicyFile, err)
	}
	return p, nil
}

// PolicyFromFile decodes the content of a policy file (as read by a
// reloader) and compiles it with CompilePolicy. The error, when it is about
// the content, is an Errors naming every problem by its path in the file.
func (c *Config) PolicyFromFile(data []byte) (*authz.Policy, error) {
	_, p, errs := c.policyFromFile(data)
	if len(errs) > 0 {
		return nil, errs
	}
	return p, nil
}

// policyFromFile decodes and compiles a policy file's content. Decoding
// problems stop before the keys are checked.
func (c *Config) policyFromFile(data []byte) (*Access, *authz.Policy, Errors) {
	a, errs := decodePolicy(data)
	if len(errs) > 0 {
		return nil, nil, errs
	}
	p, errs := c.CompilePolicy(a)
	if len(errs) > 0 {
		return nil, nil, errs
	}
	return a, p, nil
}

// decodePolicy decodes a policy file: a YAML mapping with the decision keys
// of the access section (email_domains, emails, groups,
// allow_any_authenticated, skip, rules).
func decodePolicy(data []byte) (*Access, Errors) {
	var a Access
	d := decoder{root: reflect.TypeFor[Access]()}
	d.decodeYAML(data, &a)
	errs := d.errs
	if a.PolicyFile != "" {
		errs.add("policy_file", "only in the main configuration")
	}
	if !reflect.DeepEqual(a.Bearer, Bearer{}) {
		errs.add("bearer", "only in the main configuration (access.bearer)")
	}
	sortErrors(errs)
	return &a, errs
}

// compileAccess compiles the access section, from access.policy_file when
// it is set. It returns the decision keys it compiled: the policy file's,
// or c.Access itself.
func (c *Config) compileAccess() (*Access, *authz.Policy, Errors) {
	file := c.Access.PolicyFile
	if file == "" {
		p, errs := c.compilePolicy("access.", &c.Access)
		return &c.Access, p, errs
	}
	var errs Errors
	if c.Access.hasDecisionKeys() {
		errs.add("access.policy_file", "with a policy file, email_domains, emails, groups, allow_any_authenticated, skip and rules belong in it, not in the main configuration")
		return nil, nil, errs
	}
	data, err := ReadPolicyFile(file)
	if err != nil {
		errs.add("access.policy_file", "%v", err)
		return nil, nil, errs
	}
	a, p, ferrs := c.policyFromFile(data)
	for _, e := range ferrs {
		errs.add("access.policy_file", "%s: %s", file, e.Error())
	}
	if len(errs) > 0 {
		return nil, nil, errs
	}
	return a, p, nil
}

// useDecisionKeys copies the decision keys of a (a policy file's) into
// c.Access, so that c describes the policy in force.
func (c *Config) useDecisionKeys(a *Access) {
	c.Access.EmailDomains, c.Access.Emails, c.Access.Groups = a.EmailDomains, a.Emails, a.Groups
	c.Access.AllowAnyAuthenticated, c.Access.Skip, c.Access.Rules = a.AllowAnyAuthenticated, a.Skip, a.Rules
}

// hasDecisionKeys reports whether a sets any key a policy file may hold.
func (a *Access) hasDecisionKeys() bool {
	return len(a.EmailDomains) > 0 || len(a.Emails) > 0 || len(a.Groups) > 0 ||
		a.AllowAnyAuthenticated || len(a.Skip) > 0 || len(a.Rules) > 0
}

// MaxPolicyFileSize bounds a policy file; a larger one is refused.
const MaxPolicyFileSize = 4 << 20

// ReadPolicyFile reads the policy file at path, of at most
// MaxPolicyFileSize bytes. It is the one reader of policy files: Load and
// every reload (internal/policyfile) use it.
func ReadPolicyFile(path string) ([]byte, error) {
	data, err := limitedfile.Read(path, MaxPolicyFileSize)
	if err != nil {
		return nil, fmt.Errorf("policy file: %w", unwrapPathError(err))
	}
	return data, nil
}
