package metrics

import dto "github.com/prometheus/client_model/go"

// dtoMetric is a written-out metric, for reading a histogram's count.
type dtoMetric struct{ dto.Metric }
