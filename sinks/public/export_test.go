package public

import (
	"bytes"

	"github.com/refrecon/refrecon/pipeline"
)

// SetBeforeFile installs a hook that runs before each snapshot file is
// queued (tests inject failures and cancellations with it).
func (p *Publisher) SetBeforeFile(f func(rel string) error) { p.beforeFile = f }

// RenderEncoded renders every document of a snapshot (no settled cycles)
// and encodes each into buf, as writeObjects does, calling stored after
// each: the publish's CPU beside its writer.
func RenderEncoded(info pipeline.RunInfo, res *pipeline.Result, recordsPerPage int, buf *bytes.Buffer, stored func(rel string)) error {
	return render(info, res, recordsPerPage, nil, func(rel string, v any) error {
		buf.Reset()
		if err := encodeJSON(buf, v); err != nil {
			return err
		}
		stored(rel)
		return nil
	})
}
