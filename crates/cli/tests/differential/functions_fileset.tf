output "sets" {
  value = [
    fileset("files", "*"),
    fileset("files", "**"),
    fileset("files", "**/*.txt"),
    fileset(".", "files/{a,b}.*"),
    fileset("files", "sub/?.tf"),
    fileset("${path.module}/files", "[ab].*"),
    fileset("missing", "*"),
  ]
}
