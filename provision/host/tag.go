package host

import (
	"encoding/xml"
	"fmt"
	"strings"
)

// Tag is lvslab's mark on a libvirt domain or network, stored in its
// <metadata> as
//
//	<lvslab:lab xmlns:lvslab="https://lvslab.dev/xmlns/1" name="tedu" node="web1" .../>
//
// Name is the lab; a domain's tag has Node, Role, InstanceID and Mgmt (its
// management address), a lab network's tag has Network, the management
// network's tag has Mgmt (its subnet).
type Tag struct {
	XMLName xml.Name `xml:"https://lvslab.dev/xmlns/1 lab"`
	Name    string   `xml:"name,attr"`
	Node    string   `xml:"node,attr,omitempty"`
	Role    string   `xml:"role,attr,omitempty"`
	Network string   `xml:"network,attr,omitempty"`
	// File is the lab file the object was last brought up from.
	File string `xml:"file,attr,omitempty"`
	// InstanceID is the seed's instance-id: lab, node and a nonce of the run
	// that created the node.
	InstanceID string `xml:"instance-id,attr,omitempty"`
	// Mgmt is a domain's management address (where lvslab's SSH goes) or
	// the management network's subnet.
	Mgmt string `xml:"mgmt,attr,omitempty"`
	// Class and Student mark a domain of a class's copy ("lvslab class"):
	// the class finds its copies on its hosts by them. up writes them into
	// the definition of each domain it makes (Options.Class), so a copy is
	// marked from its first VM on, whatever becomes of the run.
	Class   string `xml:"class,attr,omitempty"`
	Student string `xml:"student,attr,omitempty"`
	// Seed is how a domain's first boot was seeded: by lvslab's agent,
	// cloud-init or a login on its serial console (image.Seeding).
	Seed string `xml:"seed,attr,omitempty"`
}

// Marshal renders the tag (the inner XML of a <metadata> element) with the "lvslab" prefix, as libvirt keeps it.
func (t Tag) Marshal() string {
	return t.render(fmt.Sprintf(`<%s:lab xmlns:%s=%q`, metadataPrefix, metadataPrefix, Namespace))
}

// MarshalBare renders the tag without namespace, as virDomainSetMetadata
// wants it (it adds the namespace and prefix itself).
func (t Tag) MarshalBare() string { return t.render("<lab") }

func (t Tag) render(open string) string {
	var b strings.Builder
	b.WriteString(open)
	attr := func(k, v string) {
		if v == "" {
			return
		}
		b.WriteString(" " + k + `="`)
		xml.EscapeText(&b, []byte(v))
		b.WriteString(`"`)
	}
	attr("name", t.Name)
	attr("node", t.Node)
	attr("role", t.Role)
	attr("network", t.Network)
	attr("file", t.File)
	attr("instance-id", t.InstanceID)
	attr("mgmt", t.Mgmt)
	attr("class", t.Class)
	attr("student", t.Student)
	attr("seed", t.Seed)
	b.WriteString("/>")
	return b.String()
}

// ParseTag reads the tag out of the inner XML of a <metadata> element (or the
// element alone, as GetMetadata returns it). ok is false when there is none.
func ParseTag(inner string) (Tag, bool) {
	dec := xml.NewDecoder(strings.NewReader("<m>" + inner + "</m>"))
	for {
		tok, err := dec.Token()
		if err != nil {
			return Tag{}, false
		}
		se, isStart := tok.(xml.StartElement)
		if !isStart || se.Name.Space != Namespace || se.Name.Local != "lab" {
			continue
		}
		var t Tag
		if err := dec.DecodeElement(&t, &se); err != nil || t.Name == "" {
			return Tag{}, false
		}
		return t, true
	}
}

// Namespace is the XML namespace of lvslab's tag in the <metadata> of every
// domain and network it makes. Teardown and status find a lab's objects by
// this tag, never by re-reading the lab file.
const Namespace = "https://lvslab.dev/xmlns/1"

// metadataPrefix is the namespace prefix libvirt stores the tag under.
const metadataPrefix = "lvslab"
