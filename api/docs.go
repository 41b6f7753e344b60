package api

import (
	"bytes"
	"crypto/sha256"
	"embed"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"html"
	"html/template"
	"math"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/getkin/kin-openapi/openapi3"
	"go.yaml.in/yaml/v4"

	"github.com/verifykit/verifykit"
)

// The contract, served: openapi.yaml byte for byte, the same document as
// JSON, and a documentation page rendered from it. All three are public,
// built once from the embedded spec, and need nothing at run time.
const (
	pathOpenAPIYAML = "/openapi.yaml"
	pathOpenAPIJSON = "/openapi.json"
	pathDocs        = "/docs"
)

//go:embed docs/page.html.tmpl docs/page.css
var docsAssets embed.FS

// document is one representation of the contract, ready to serve.
type document struct {
	body        []byte
	contentType string
	etag        string
	header      map[string]string // extra response headers
}

// contractDocs serves the three documents by path.
type contractDocs map[string]*document

// loadContractDocs builds the documents once per process: the spec is
// embedded, so they never change.
var loadContractDocs = sync.OnceValues(func() (contractDocs, error) {
	src := []byte(verifykit.OpenAPIYAML())
	asJSON, err := yamlToJSON(src)
	if err != nil {
		return nil, fmt.Errorf("openapi.yaml as JSON: %w", err)
	}
	page, csp, err := renderDocs(src)
	if err != nil {
		return nil, fmt.Errorf("render docs: %w", err)
	}
	// Anyone may read the contract, from any origin (editors, generators).
	public := map[string]string{"Access-Control-Allow-Origin": "*"}
	return contractDocs{
		pathOpenAPIYAML: newDocument(src, "application/yaml", public),
		pathOpenAPIJSON: newDocument(asJSON, "application/json", public),
		pathDocs: newDocument(page, "text/html; charset=utf-8", map[string]string{
			"Content-Security-Policy": csp,
			"Referrer-Policy":         "no-referrer",
			"X-Frame-Options":         "DENY",
		}),
	}, nil
})

func newDocument(body []byte, contentType string, header map[string]string) *document {
	sum := sha256.Sum256(body)
	return &document{
		body:        body,
		contentType: contentType,
		etag:        `"` + base64.RawURLEncoding.EncodeToString(sum[:16]) + `"`,
		header:      header,
	}
}

// ServeHTTP answers GET and HEAD, with an ETag for conditional requests;
// any other method gets a plain-text 405, since these paths are outside
// the contract and its Twilio errors.
func (d contractDocs) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	doc, ok := d[r.URL.Path]
	if !ok {
		http.NotFound(w, r)
		return
	}
	h := w.Header()
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		h.Set("Allow", "GET, HEAD")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	h.Set("Content-Type", doc.contentType)
	h.Set("ETag", doc.etag)
	h.Set("Cache-Control", "no-cache")
	h.Set("X-Content-Type-Options", "nosniff")
	for k, v := range doc.header {
		h.Set(k, v)
	}
	// ServeContent answers HEAD, If-None-Match and ranges.
	http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(doc.body))
}

// yamlToJSON converts a YAML document to indented JSON, keeping the order
// of every mapping's keys so that the JSON reads like the YAML.
func yamlToJSON(src []byte) ([]byte, error) {
	var root yaml.Node
	if err := yaml.Unmarshal(src, &root); err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	if err := writeJSON(&buf, &root); err != nil {
		return nil, err
	}
	var out bytes.Buffer
	if err := json.Indent(&out, buf.Bytes(), "", "  "); err != nil {
		return nil, err
	}
	out.WriteByte('\n')
	return out.Bytes(), nil
}

func writeJSON(buf *bytes.Buffer, n *yaml.Node) error {
	switch n.Kind {
	case yaml.DocumentNode:
		if len(n.Content) != 1 {
			return errors.New("want exactly one document")
		}
		return writeJSON(buf, n.Content[0])
	case yaml.AliasNode:
		return writeJSON(buf, n.Alias)
	case yaml.MappingNode:
		buf.WriteByte('{')
		for i := 0; i+1 < len(n.Content); i += 2 {
			k := n.Content[i]
			if k.Kind != yaml.ScalarNode || k.Value == "<<" {
				return fmt.Errorf("line %d: only plain mapping keys convert to JSON", k.Line)
			}
			if i > 0 {
				buf.WriteByte(',')
			}
			key, _ := json.Marshal(k.Value)
			buf.Write(key)
			buf.WriteByte(':')
			if err := writeJSON(buf, n.Content[i+1]); err != nil {
				return err
			}
		}
		buf.WriteByte('}')
	case yaml.SequenceNode:
		buf.WriteByte('[')
		for i, c := range n.Content {
			if i > 0 {
				buf.WriteByte(',')
			}
			if err := writeJSON(buf, c); err != nil {
				return err
			}
		}
		buf.WriteByte(']')
	case yaml.ScalarNode:
		var v any = n.Value // strings, timestamps and any other tag stay text
		switch n.ShortTag() {
		case "!!null", "!!bool", "!!int", "!!float":
			if err := n.Decode(&v); err != nil {
				return fmt.Errorf("line %d: %w", n.Line, err)
			}
		}
		if f, ok := v.(float64); ok && (math.IsInf(f, 0) || math.IsNaN(f)) {
			return fmt.Errorf("line %d: %v has no JSON form", n.Line, f)
		}
		b, err := json.Marshal(v)
		if err != nil {
			return fmt.Errorf("line %d: %w", n.Line, err)
		}
		buf.Write(b)
	default:
		return fmt.Errorf("line %d: unexpected YAML node", n.Line)
	}
	return nil
}

// The view of the spec that page.html.tmpl renders.
type (
	docsPage struct {
		Title, Version, OpenAPI string
		Description             template.HTML
		Contact, License        docsLink
		Servers                 []docsServer
		Security                []docsSecurity
		Operations              []docsOperation
		Schemas                 []docsSchema
		Examples                []docsExample
		CSS                     template.CSS
	}
	docsLink   struct{ Name, URL string }
	docsServer struct {
		URL         string
		Description template.HTML
	}
	docsSecurity struct {
		Name, Type, Scheme string
		Description        template.HTML
	}
	docsOperation struct {
		ID, Method, Path, Summary string
		Description               template.HTML
		Tags, Security            []string
		Parameters                []docsField
		Body                      *docsBody
		Responses                 []docsResponse
	}
	docsBody struct {
		ContentType string
		Required    bool
		Type        docsType
		Fields      []docsField
		Examples    []docsExample
	}
	docsResponse struct {
		Status      string
		Class       string // "ok" or "error", for styling
		Description template.HTML
		Headers     []docsField
		ContentType string
		Type        docsType
		Code        string // the Twilio error code of the example, if any
		Examples    []docsExample
	}
	docsSchema struct {
		Name        string
		Type        string
		Description template.HTML
		Constraints []string
		Fields      []docsField
	}
	// docsField is a parameter, header, form field or property.
	docsField struct {
		Name, In    string
		Type        docsType
		Required    bool
		Constraints []string
		Description template.HTML
		Example     string
	}
	// docsType names a type, linking to its schema when it has one.
	docsType    struct{ Name, Ref string }
	docsExample struct {
		Name, Summary string
		JSON          string
		Form          string // the form encoding of a form body's example
	}
)

// renderDocs renders the documentation page of the spec in src, and
// returns it with the Content-Security-Policy that lets its one inline
// style sheet apply and nothing else load.
func renderDocs(src []byte) ([]byte, string, error) {
	doc, err := openapi3.NewLoader().LoadFromData(src)
	if err != nil {
		return nil, "", err
	}
	css, err := docsAssets.ReadFile("docs/page.css")
	if err != nil {
		return nil, "", err
	}
	tmpl, err := template.New("page.html.tmpl").Funcs(template.FuncMap{"lower": strings.ToLower}).
		ParseFS(docsAssets, "docs/page.html.tmpl")
	if err != nil {
		return nil, "", err
	}
	page := newDocsPage(doc)
	page.CSS = template.CSS(css) //nolint:gosec // G203: our own embedded stylesheet
	var buf bytes.Buffer
	if err := tmpl.Execute(&buf, page); err != nil {
		return nil, "", err
	}
	out := buf.Bytes()
	// Hash the style element exactly as rendered.
	start := bytes.Index(out, []byte("<style>"))
	end := bytes.Index(out, []byte("</style>"))
	if start < 0 || end < start {
		return nil, "", errors.New("page has no style element")
	}
	sum := sha256.Sum256(out[start+len("<style>") : end])
	csp := "default-src 'none'; style-src 'sha256-" + base64.StdEncoding.EncodeToString(sum[:]) + "'; " +
		"img-src data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
	return out, csp, nil
}

func newDocsPage(doc *openapi3.T) docsPage {
	p := docsPage{
		Title:       doc.Info.Title,
		Version:     doc.Info.Version,
		OpenAPI:     doc.OpenAPI,
		Description: markdown(doc.Info.Description),
	}
	if c := doc.Info.Contact; c != nil {
		p.Contact = docsLink{Name: c.Name, URL: c.URL}
	}
	if l := doc.Info.License; l != nil {
		p.License = docsLink{Name: l.Name, URL: l.URL}
	}
	for _, s := range doc.Servers {
		p.Servers = append(p.Servers, docsServer{URL: s.URL, Description: markdown(s.Description)})
	}
	for _, name := range sortedKeys(doc.Components.SecuritySchemes) {
		s := doc.Components.SecuritySchemes[name].Value
		p.Security = append(p.Security, docsSecurity{Name: name, Type: s.Type, Scheme: s.Scheme, Description: markdown(s.Description)})
	}
	for _, path := range doc.Paths.InMatchingOrder() {
		item := doc.Paths.Value(path)
		for _, method := range []string{"GET", "POST", "PUT", "PATCH", "DELETE"} {
			if op := item.GetOperation(method); op != nil {
				p.Operations = append(p.Operations, newDocsOperation(doc, path, method, item, op))
			}
		}
	}
	slices.SortStableFunc(p.Operations, func(a, b docsOperation) int { return strings.Compare(a.Path, b.Path) })
	for _, name := range sortedKeys(doc.Components.Schemas) {
		s := doc.Components.Schemas[name].Value
		p.Schemas = append(p.Schemas, docsSchema{
			Name:        name,
			Type:        typeName(s),
			Description: markdown(s.Description),
			Constraints: constraints(s),
			Fields:      fieldsOf(s),
		})
	}
	for _, name := range sortedKeys(doc.Components.Examples) {
		ex := doc.Components.Examples[name].Value
		p.Examples = append(p.Examples, docsExample{Name: name, Summary: ex.Summary, JSON: prettyJSON(ex.Value)})
	}
	return p
}

func newDocsOperation(doc *openapi3.T, path, method string, item *openapi3.PathItem, op *openapi3.Operation) docsOperation {
	o := docsOperation{
		ID:          op.OperationID,
		Method:      method,
		Path:        path,
		Summary:     op.Summary,
		Description: markdown(op.Description),
		Tags:        op.Tags,
	}
	security := doc.Security
	if op.Security != nil {
		security = *op.Security
	}
	for _, req := range security {
		o.Security = append(o.Security, sortedKeys(req)...)
	}
	for _, ref := range append(slices.Clone(item.Parameters), op.Parameters...) {
		prm := ref.Value
		f := docsField{
			Name:        prm.Name,
			In:          prm.In,
			Required:    prm.Required,
			Description: markdown(prm.Description),
		}
		if prm.Schema != nil {
			f.Type = typeOf(prm.Schema)
			f.Constraints = constraints(prm.Schema.Value)
		}
		if prm.Example != nil {
			f.Example = fmt.Sprint(prm.Example)
		}
		o.Parameters = append(o.Parameters, f)
	}
	// The contract gives each body one media type; the page shows the first.
	if rb := op.RequestBody; rb != nil && len(rb.Value.Content) > 0 {
		ct := sortedKeys(rb.Value.Content)[0]
		media := rb.Value.Content[ct]
		b := &docsBody{ContentType: ct, Required: rb.Value.Required}
		if media.Schema != nil {
			b.Type = typeOf(media.Schema)
			b.Fields = fieldsOf(media.Schema.Value)
		}
		b.Examples = examplesOf(media)
		if ct == "application/x-www-form-urlencoded" {
			for i := range b.Examples {
				b.Examples[i].Form = formEncoding(media, b.Examples[i].Name)
			}
		}
		o.Body = b
	}
	statuses := sortedKeys(op.Responses.Map())
	for _, status := range statuses {
		resp := op.Responses.Value(status).Value
		r := docsResponse{Status: status, Class: "ok", Description: markdown(deref(resp.Description))}
		if !strings.HasPrefix(status, "2") {
			r.Class = "error"
		}
		for _, name := range sortedKeys(resp.Headers) {
			hv := resp.Headers[name].Value
			f := docsField{Name: name, Required: hv.Required, Description: markdown(hv.Description)}
			if hv.Schema != nil {
				f.Type = typeOf(hv.Schema)
				f.Constraints = constraints(hv.Schema.Value)
				if ex := hv.Schema.Value.Example; ex != nil {
					f.Example = fmt.Sprint(ex)
				}
			}
			if hv.Example != nil {
				f.Example = fmt.Sprint(hv.Example)
			}
			r.Headers = append(r.Headers, f)
		}
		if len(resp.Content) > 0 {
			ct := sortedKeys(resp.Content)[0]
			media := resp.Content[ct]
			r.ContentType = ct
			if media.Schema != nil {
				r.Type = typeOf(media.Schema)
			}
			r.Examples = examplesOf(media)
			if m, ok := media.Example.(map[string]any); ok && m["code"] != nil {
				r.Code = fmt.Sprint(m["code"])
			}
		}
		o.Responses = append(o.Responses, r)
	}
	return o
}

// fieldsOf lists the properties of an object schema: required ones first,
// in the order the spec requires them, then the others by name.
func fieldsOf(s *openapi3.Schema) []docsField {
	if len(s.Properties) == 0 {
		return nil
	}
	names := slices.Clone(s.Required)
	for _, name := range sortedKeys(s.Properties) {
		if !slices.Contains(names, name) {
			names = append(names, name)
		}
	}
	var fields []docsField
	for _, name := range names {
		ref, ok := s.Properties[name]
		if !ok {
			continue
		}
		fields = append(fields, docsField{
			Name:        name,
			Type:        typeOf(ref),
			Required:    slices.Contains(s.Required, name),
			Constraints: constraints(ref.Value),
			Description: markdown(ref.Value.Description),
		})
	}
	return fields
}

// typeOf names the type of a schema, and links a named component.
func typeOf(ref *openapi3.SchemaRef) docsType {
	if name, ok := strings.CutPrefix(ref.Ref, "#/components/schemas/"); ok {
		return docsType{Name: name, Ref: "schema-" + name}
	}
	return docsType{Name: typeName(ref.Value)}
}

func typeName(s *openapi3.Schema) string {
	name := "any"
	if s.Type != nil && len(s.Type.Slice()) > 0 {
		name = strings.Join(s.Type.Slice(), " | ")
	}
	if s.Items != nil {
		name = "array of " + typeOf(s.Items).Name
	}
	if s.Nullable {
		name += " | null"
	}
	return name
}

// constraints describes the rules of a schema, one phrase each.
func constraints(s *openapi3.Schema) []string {
	var c []string
	if len(s.Enum) > 0 {
		vals := make([]string, len(s.Enum))
		for i, v := range s.Enum {
			vals[i] = fmt.Sprint(v)
		}
		c = append(c, "one of: "+strings.Join(vals, ", "))
	}
	switch max := s.MaxLength; {
	case max != nil && s.MinLength == *max:
		c = append(c, fmt.Sprintf("exactly %d characters", *max))
	case max != nil && s.MinLength > 0:
		c = append(c, fmt.Sprintf("%d to %d characters", s.MinLength, *max))
	case max != nil:
		c = append(c, fmt.Sprintf("at most %d characters", *max))
	case s.MinLength > 0:
		c = append(c, fmt.Sprintf("at least %d characters", s.MinLength))
	}
	if s.Pattern != "" {
		c = append(c, "pattern "+s.Pattern)
	}
	switch {
	case s.Min != nil && s.Max != nil:
		c = append(c, fmt.Sprintf("from %s to %s", number(*s.Min), number(*s.Max)))
	case s.Min != nil:
		c = append(c, "at least "+number(*s.Min))
	case s.Max != nil:
		c = append(c, "at most "+number(*s.Max))
	}
	if s.Format != "" {
		c = append(c, "format "+s.Format)
	}
	if s.Default != nil {
		c = append(c, "default "+fmt.Sprint(s.Default))
	}
	if has := s.AdditionalProperties.Has; has != nil && !*has {
		c = append(c, "no other fields")
	}
	return c
}

func number(f float64) string { return strconv.FormatFloat(f, 'f', -1, 64) }

// examplesOf lists a media type's examples: its example, or its named
// examples by name.
func examplesOf(media *openapi3.MediaType) []docsExample {
	if media.Example != nil {
		return []docsExample{{JSON: prettyJSON(media.Example)}}
	}
	var out []docsExample
	for _, name := range sortedKeys(media.Examples) {
		ref := media.Examples[name]
		ex := docsExample{Name: name, Summary: ref.Value.Summary, JSON: prettyJSON(ref.Value.Value)}
		if target, ok := strings.CutPrefix(ref.Ref, "#/components/examples/"); ok && ex.Summary == "" {
			ex.Summary = "See example " + target
		}
		out = append(out, ex)
	}
	return out
}

// formEncoding is a form example as a client sends it, fields sorted by
// name (as twilio-go sends them).
func formEncoding(media *openapi3.MediaType, name string) string {
	ref, ok := media.Examples[name]
	if !ok {
		return ""
	}
	m, ok := ref.Value.Value.(map[string]any)
	if !ok {
		return ""
	}
	form := url.Values{}
	for k, v := range m {
		form.Set(k, fmt.Sprint(v))
	}
	return form.Encode()
}

func prettyJSON(v any) string {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return fmt.Sprint(v)
	}
	return string(b)
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

func sortedKeys[M ~map[string]V, V any](m M) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// Inline Markdown of descriptions: `code` and **strong**.
var (
	mdStrong = regexp.MustCompile(`\*\*([^*]+)\*\*`)
	mdBullet = regexp.MustCompile(`^\s*[*-]\s+`)
)

// markdown renders the little Markdown the spec's descriptions use:
// paragraphs, "* " bullet lists (continued by indented lines), `code` and
// **strong**. Everything is escaped first, so the result is safe HTML.
func markdown(src string) template.HTML {
	var b strings.Builder
	for _, block := range strings.Split(strings.TrimSpace(src), "\n\n") {
		lines := strings.Split(strings.TrimSpace(block), "\n")
		if lines[0] == "" {
			continue
		}
		if !mdBullet.MatchString(lines[0]) {
			b.WriteString("<p>")
			b.WriteString(inline(strings.Join(trimAll(lines), " ")))
			b.WriteString("</p>")
			continue
		}
		var items []string
		for _, l := range lines {
			if mdBullet.MatchString(l) {
				items = append(items, mdBullet.ReplaceAllString(l, ""))
			} else if len(items) > 0 {
				items[len(items)-1] += " " + strings.TrimSpace(l)
			}
		}
		b.WriteString("<ul>")
		for _, it := range items {
			b.WriteString("<li>" + inline(it) + "</li>")
		}
		b.WriteString("</ul>")
	}
	return template.HTML(b.String()) //nolint:gosec // built from escaped text only
}

// inline escapes s and renders its code spans and strong text. Strong
// text may contain code spans; asterisks inside code spans stay literal.
func inline(s string) string {
	parts := strings.Split(s, "`")
	var b strings.Builder
	for i, part := range parts {
		esc := html.EscapeString(part)
		switch {
		case i%2 == 1 && i < len(parts)-1: // inside a code span
			b.WriteString("<code>" + strings.ReplaceAll(esc, "*", "&#42;") + "</code>")
		case i%2 == 1: // after an unmatched backtick
			b.WriteString("`" + esc)
		default:
			b.WriteString(esc)
		}
	}
	return mdStrong.ReplaceAllString(b.String(), "<strong>$1</strong>")
}

func trimAll(lines []string) []string {
	out := make([]string, len(lines))
	for i, l := range lines {
		out[i] = strings.TrimSpace(l)
	}
	return out
}
