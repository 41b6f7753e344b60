package verify

import (
	"errors"
	"fmt"
	"iter"
	"net/url"
	"strconv"

	"github.com/verifykit/verifykit/gen/models"
)

// ListParams selects one page of a list, and the size of the pages after
// it. The zero value asks for the first page, at the server's page size.
//
// Lists come one page at a time, each with a meta object whose
// next_page_url carries an opaque PageToken. The ListX methods follow those
// tokens for you and yield every item; the ListXPage methods return one
// page, and NextPage reads the ListParams of the page after it.
type ListParams struct {
	// PageSize is how many items a page holds, 1 to 1000. It is left out of
	// the request when zero, and the server then uses 50.
	PageSize int
	// PageToken names the page to fetch, as a next_page_url carries it;
	// the first page when empty.
	PageToken string
	// Page is the number of the page that PageToken names. The server only
	// repeats it in meta.page; it is left out of the request when zero.
	Page int
}

// query returns p as the generated client's optional query parameters.
func (p ListParams) query() (size, page *int, token *string) {
	if p.PageSize != 0 {
		size = &p.PageSize
	}
	if p.Page != 0 {
		page = &p.Page
	}
	if p.PageToken != "" {
		token = &p.PageToken
	}
	return size, page, token
}

// NextPage returns the ListParams of the page after the one meta describes,
// read from its next_page_url, or false when meta describes the last page.
// Only the query of next_page_url is used: the next request goes to the
// Client's own base URL, whatever host the server names there.
func NextPage(meta models.ListMeta) (ListParams, bool, error) {
	if meta.NextPageURL == nil || *meta.NextPageURL == "" {
		return ListParams{}, false, nil
	}
	u, err := url.Parse(*meta.NextPageURL)
	if err != nil {
		return ListParams{}, false, fmt.Errorf("next page: %w", err)
	}
	q := u.Query()
	p := ListParams{PageToken: q.Get("PageToken"), PageSize: meta.PageSize}
	if p.PageToken == "" {
		p.PageToken = q.Get("pageToken") // the iOS SDK's spelling
	}
	if p.PageToken == "" {
		return ListParams{}, false, fmt.Errorf("next page: next_page_url %q carries no PageToken", *meta.NextPageURL)
	}
	for _, f := range []struct {
		name string
		dst  *int
	}{{"PageSize", &p.PageSize}, {"Page", &p.Page}} {
		v := q.Get(f.name)
		if v == "" {
			continue
		}
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			return ListParams{}, false, fmt.Errorf("next page: next_page_url %q has %s %q, want a number", *meta.NextPageURL, f.name, v)
		}
		*f.dst = n
	}
	return p, true, nil
}

// errPageRepeats ends a list whose next page is one it has read already,
// which would otherwise never end.
var errPageRepeats = errors.New("next page: next_page_url names a page read already")

// items returns an iterator over the items of the pages that fetch
// returns, from the page p names on, following each next_page_url. It
// yields an error at most once, as its last pair; op names the operation
// in the errors that fetch has not wrapped.
func items[T any](op string, p ListParams, fetch func(ListParams) ([]T, models.ListMeta, error)) iter.Seq2[T, error] {
	return func(yield func(T, error) bool) {
		var zero T
		seen := map[string]bool{p.PageToken: true}
		for {
			page, meta, err := fetch(p)
			if err != nil {
				yield(zero, err)
				return
			}
			for _, it := range page {
				if !yield(it, nil) {
					return
				}
			}
			next, ok, err := NextPage(meta)
			switch {
			case err != nil:
				yield(zero, fmt.Errorf("%s: %w", op, err))
				return
			case !ok:
				return
			case seen[next.PageToken]:
				yield(zero, fmt.Errorf("%s: %w", op, errPageRepeats))
				return
			}
			seen[next.PageToken] = true
			p = next
		}
	}
}
