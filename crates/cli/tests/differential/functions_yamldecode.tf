output "scalars" { value = yamldecode("a: 1\nb: [x, y]\nc: yes\nd: ~\ne: 1.5\nf: 0x1F\ng: 2001-12-14\nh: true\ni: 'on'\n1: k\nj: 0o17\nk: 1_000\nl: Off\nm: \"2\"\n") }
output "merged" { value = yamldecode("base: &b {x: 1, z: 3}\nder:\n  <<: *b\n  y: 2\n  z: 4\nlist: [*b]\n") }
output "block" { value = yamldecode("text: |\n  line one\n  line two\nfolded: >\n  a\n  b\n") }
output "empty_doc" { value = yamldecode("---") }
output "seq" { value = yamldecode("- 1\n- two\n- [3]\n- {four: 4}\n") }
output "bad" { value = try(yamldecode("a: [1, 2\n"), "error") }
output "tagged" { value = yamldecode("a: !!str 12\nb: !!int \"7\"\nc: !!float 1\n") }
