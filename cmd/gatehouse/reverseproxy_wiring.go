package main

import (
	"github.com/gatehouse/gatehouse/internal/pages"
	"github.com/gatehouse/gatehouse/internal/reverseproxy"
)

// newReverseProxy turns on reverse-proxy mode when upstreams are
// configured: the public listener then proxies every request that is not
// one of gatehouse's own endpoints, judged by the same checker.
func (a *app) newReverseProxy(pg *pages.Pages) error {
	if len(a.cfg.Upstreams) == 0 {
		return nil
	}
	ups := make([]reverseproxy.Upstream, 0, len(a.cfg.Upstreams))
	for _, u := range a.cfg.Upstreams {
		ups = append(ups, reverseproxy.Upstream{
			Name: u.Name, Host: u.Host, PathPrefix: u.PathPrefix, URL: u.URL, HostHeader: u.HostHeader,
			ConnectTimeout: u.Timeouts.Connect, ResponseHeaderTimeout: u.Timeouts.ResponseHeader,
		})
	}
	h, err := reverseproxy.New(a.checker, ups, reverseproxy.Options{
		TrustedProxies: a.cfg.TrustedPrefixes(),
		Logger:         a.log,
		Observer:       a.metrics,
		Pages:          pg,
		Own:            a.ownHandler(),
		OwnPaths:       a.ownPaths(),
	})
	if err != nil {
		return err // names upstreams[i].field
	}
	a.proxy = h
	return nil
}
