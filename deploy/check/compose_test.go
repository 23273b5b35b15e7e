package check

import (
	"testing"

	"github.com/compose-spec/compose-go/v2/loader"

	"github.com/gatehouse/gatehouse/internal/config"
)

var _ = loader.LoadWithContext
var _ = config.Load

func TestPlaceholder(t *testing.T) {}
