package api

import (
	"strconv"
	"strings"
	"time"

	"github.com/verifykit/verifykit/gen/models"
	"github.com/verifykit/verifykit/internal/store"
)

// defaultPageSize is a list page's size when PageSize is left out.
const defaultPageSize = 50

// pageRequest is what a list request asks for: its page in the store's
// terms, and what its meta must say.
type pageRequest struct {
	store.Page
	number int    // Page, informational
	token  string // the PageToken of this page, "" for the first
	// filters is the list's other query parameters, encoded, which every
	// meta URL carries too ("" for none).
	filters string
}

// newPageRequest reads the paging parameters of a list request. pageToken
// is the iOS SDK's spelling of PageToken.
func newPageRequest(size *int, page *int, token, tokenIOS *string) (pageRequest, error) {
	p := pageRequest{Page: store.Page{Limit: defaultPageSize}}
	if size != nil {
		p.Limit = *size
	}
	if page != nil {
		p.number = *page
	}
	if token == nil {
		token = tokenIOS
	}
	if token == nil || *token == "" {
		return p, nil
	}
	dir, c, ok := parsePageToken(*token)
	if !ok {
		name := "PageToken"
		if tokenIOS != nil && token == tokenIOS {
			name = "pageToken"
		}
		return p, errInvalidParameter(name)
	}
	p.token = *token
	if dir == 'N' {
		p.After = &c
	} else {
		p.Before = &c
	}
	return p, nil
}

// A PageToken is opaque to clients: P, N (the items after) or P (the
// items before), the cursor's creation time in Unix seconds, "_" and its
// SID, such as PN1733330000_YEaaaa….
func pageToken(dir byte, c store.Cursor) string {
	return "P" + string(dir) + strconv.FormatInt(c.Created.Unix(), 10) + "_" + c.SID
}

// maxPageTime bounds a PageToken's time, the end of year 9999 in Unix
// seconds: within every engine's range, so that a forged token is refused
// here rather than failing, or wrapping, in the store.
const maxPageTime = 253402300799

// validSID reports whether s has the shape of a SID: two capital letters
// and 32 hex digits, so that a PageToken copied into the meta URLs needs
// no escaping.
func validSID(s string) bool {
	if len(s) != 34 || s[0] < 'A' || s[0] > 'Z' || s[1] < 'A' || s[1] > 'Z' {
		return false
	}
	for _, c := range s[2:] {
		if !strings.ContainsRune("0123456789abcdefABCDEF", c) {
			return false
		}
	}
	return true
}

func parsePageToken(t string) (byte, store.Cursor, bool) {
	if len(t) < 4 || t[0] != 'P' || (t[1] != 'N' && t[1] != 'P') {
		return 0, store.Cursor{}, false
	}
	secs, sid, ok := strings.Cut(t[2:], "_")
	n, err := strconv.ParseInt(secs, 10, 64)
	if !ok || err != nil || n < 0 || n > maxPageTime || !validSID(sid) {
		return 0, store.Cursor{}, false
	}
	return t[1], store.Cursor{Created: time.Unix(n, 0).UTC(), SID: sid}, true
}

// meta describes a page of the list at listURL (absolute, no query) whose
// first and last items have the cursors first and last (nil on an empty
// page); more says whether the store has items beyond the page in its
// direction.
func (p pageRequest) meta(listURL, key string, first, last *store.Cursor, more bool) models.ListMeta {
	pageURL := func(number int, token string) string {
		u := listURL + "?"
		if p.filters != "" {
			u += p.filters + "&"
		}
		u += "PageSize=" + strconv.Itoa(p.Limit) + "&Page=" + strconv.Itoa(number)
		if token != "" {
			u += "&PageToken=" + token
		}
		return u
	}
	m := models.ListMeta{
		Key:          key,
		Page:         p.number,
		PageSize:     p.Limit,
		FirstPageURL: pageURL(0, ""),
		URL:          pageURL(p.number, p.token),
	}
	hasNext := more
	hasPrev := p.After != nil
	if p.Before != nil {
		hasNext, hasPrev = true, more
	}
	if hasNext && last != nil {
		next := pageURL(p.number+1, pageToken('N', *last))
		m.NextPageURL = &next
	}
	if hasPrev && first != nil {
		prev := pageURL(max(p.number-1, 0), pageToken('P', *first))
		m.PreviousPageURL = &prev
	}
	return m
}
