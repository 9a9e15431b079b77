package provider

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
)

// maxAnswer bounds what is read of a provider's answer.
const maxAnswer = 1 << 20

// readJSON sorts a provider's answer about a token and closes its body: 401 and 403
// are ErrInvalidToken, any other status but 200 an *UnavailableError, and a 200's
// JSON is decoded into v. what names the call in errors ("GET /user").
func readJSON(resp *http.Response, what string, v any) error {
	defer resp.Body.Close()
	body := io.LimitReader(resp.Body, maxAnswer)
	switch {
	case resp.StatusCode == http.StatusUnauthorized || resp.StatusCode == http.StatusForbidden:
		io.Copy(io.Discard, body)
		return ErrInvalidToken
	case resp.StatusCode != http.StatusOK:
		io.Copy(io.Discard, body)
		return &UnavailableError{Err: fmt.Errorf("%s: HTTP %d", what, resp.StatusCode)}
	}
	if err := json.NewDecoder(body).Decode(v); err != nil {
		return &UnavailableError{Err: fmt.Errorf("%s: bad JSON: %w", what, err)}
	}
	return nil
}

// drain reads what is left of a body the caller has no use for, so that its
// connection can be reused, and closes it.
func drain(resp *http.Response) {
	io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	resp.Body.Close()
}
