"""The HTML preview: sample selection, --where checking, outlines, and a headless Chromium load."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
import shapely
import shapely.affinity
from click.testing import CliRunner
from PIL import Image
from sample_world import LOOPBACK_MODEL, copy_warehouse

from rsteller_db.cli import main
from rsteller_db.errors import InputError
from rsteller_db.inspect import select_samples, write_preview
from rsteller_db.warehouse import Warehouse

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.fixture(scope="module")
def demo(sample_warehouse, tmp_path_factory):
    """A copy of the sample warehouse with an HTML caption and a cached JPEG gone missing."""
    path = copy_warehouse(sample_warehouse, tmp_path_factory.mktemp("preview"))
    with Warehouse(path) as wh:
        first, second = wh.con.execute(
            "select request_id, patch_id from preview_samples where task = 1 "
            "order by patch_id limit 2").fetchall()
        wh.con.execute("update captions set text = text || ' <em>Fields & farms</em>' "
                       "where request_id = ? and status = 'accepted'", [first[0]])
        lost = wh.con.execute("select path from patch_images where patch_id = ?",
                              [second[1]]).fetchone()[0]
    (path.parent / lost).unlink()  # a cached JPEG gone missing: its sample is left out
    return path


@pytest.fixture(scope="module")
def wh(demo):
    with Warehouse(demo, read_only=True) as opened:
        yield opened


@pytest.fixture(scope="module")
def page(wh, tmp_path_factory):
    return write_preview(wh, tmp_path_factory.mktemp("page") / "preview.html", n=50)


def direct(wh, sql):
    return wh.con.execute(sql).fetchall()


def test_samples_are_the_exported_samples_with_images(wh, page):
    expected = direct(wh, """
        select c.request_id from captions c join patch_images i using (patch_id)
        where c.status = 'accepted' and c.task in (1, 2) and i.status = 'ok'
        qualify row_number() over (partition by c.patch_id order by c.task, c.caption_id) = 1
        """)
    assert page.matched == len(expected) > 10
    assert len(page.samples) == len(expected) - 1
    shown = {s.request_id for s in page.samples}
    (lost,) = {r for (r,) in expected} - shown
    assert page.skipped == [f"{lost}: images/{page.skipped[0].split('images/', 1)[1]}"]
    assert page.skipped[0].endswith("(FileNotFoundError)")


def test_each_sample_shows_its_exported_captions(wh, page):
    exported = {}
    for patch_id, captions in direct(wh, "select patch_id, captions from dataset_samples"):
        exported[patch_id] = [(c["task"], c["annotator"], c["text"]) for c in captions]
    for s in page.samples:
        assert s.captions == exported[s.patch_id]
        assert [t for t, _, _ in s.captions] == [s.task, 3]


def test_task_and_where_filters(wh):
    rows, total = select_samples(wh, task=2)
    assert rows and {r["task"] for r in rows} == {2} and total == len(rows)
    rows, _ = select_samples(wh, task=3)
    assert rows and all(r["revisions"] > 0 for r in rows)
    homes = "tags['landuse'] = 'residential' and annotator like '%template%'"
    rows, total = select_samples(wh, where=homes)
    assert rows and all(r["tags"]["landuse"] == "residential" for r in rows)
    assert all(r["annotator"] == "rsteller-db/template" for r in rows)
    rows, total = select_samples(wh, where=f"annotator = '{LOOPBACK_MODEL}'")
    assert rows and total == len(rows) < 5
    rows, total = select_samples(wh, n=2, where="task in (1, 2)")
    assert len(rows) == 2 and total > 2


@pytest.mark.parametrize("condition,message", [
    ("patch_id in (select patch_id from captions)", "holds a subquery"),
    ("1 = 1) union (select * from captions", "is not a plain condition (it changes the query"),
    ("1 = 1 order by patch_id", "is not valid SQL"),
    ("1 = 1; drop table captions", "is not valid SQL"),
    ("1 = 1); drop table captions; select (1", "holds more than one statement"),
    ("count(*) > 1", "calls count_star(), an aggregate function"),
    ("read_csv('/etc/passwd') is not null", "calls read_csv(), a table function"),
    ("nextval('x') > 0", "calls nextval(), which does not depend on the samples"),
    ("", "is empty"),
])
def test_where_rejects_anything_but_a_condition(wh, condition, message):
    with pytest.raises(InputError) as err:
        select_samples(wh, where=condition or " ")
    assert message in str(err.value)
    assert str(err.value).endswith("e.g. --where \"task = 1 and annotator like '%Nemo%'\"")


def test_where_names_the_known_columns(wh):
    with pytest.raises(InputError, match=r"unknown column 'secret'; the sample columns are: "
                                         r"annotator, backend, caption_id"):
        select_samples(wh, where="secret = 1")


def test_page_holds_images_outlines_facts_and_escaped_captions(page):
    html = page.path.read_text()
    assert html.count('<img src="data:image/jpeg;base64,') == len(page.samples)
    assert html.count('<section class="sample"') == len(page.samples)
    assert all(s.shapes for s in page.samples)
    assert "&lt;em&gt;Fields &amp; farms&lt;/em&gt;" in html and "<em>Fields" not in html
    assert LOOPBACK_MODEL in html and "rsteller-db/template" in html and "Task 3" in html
    assert "<th>landuse</th><td>residential</td>" in html
    assert "http://" not in html.replace("http://www.w3.org", "")  # self-contained


def _svg_geometry(shapes):
    """The drawn shapes (SVG path data in JPEG pixels) back as one shapely geometry."""
    parts = []
    for kind, data in shapes:
        for piece in filter(None, (p.strip() for p in data.split("M"))):
            nums = [float(v) for v in re.findall(r"-?\d+(?:\.\d+)?", piece)]
            points = list(zip(nums[::2], nums[1::2], strict=True))
            parts.append(shapely.Polygon(points) if kind == "area" else
                         shapely.LineString(points))
    return shapely.union_all([shapely.make_valid(p) for p in parts])


def test_outlines_sit_where_the_element_is_in_the_image(wh, page):
    """Each drawn outline against the element computed here from staging (EPSG:4326) by
    pyproj: projected to the image CRS, clipped to the patch, scaled to the JPEG."""
    from pyproj import Transformer

    rows = {r[0]: r[1:] for r in direct(wh, """
        select s.request_id, g.epsg, ST_AsWKB(g.geom_native), ST_AsWKB(e.geom), e.kind
        from preview_samples s join int_patches_gridded g using (patch_id)
        join stg_osm__elements e using (element_id)""")}
    checked = 0
    for s in page.samples:
        epsg, patch_wkb, element_wkb, kind = rows[s.request_id]
        project = Transformer.from_crs(4326, epsg, always_xy=True).transform
        patch = shapely.from_wkb(patch_wkb)
        x0, y0, x1, y1 = patch.bounds
        element = shapely.transform(
            shapely.from_wkb(element_wkb), lambda xy, f=project: np.column_stack(f(*xy.T)))
        clip = element.intersection(patch)
        expected = shapely.affinity.affine_transform(
            clip, [s.width / (x1 - x0), 0, 0, -s.height / (y1 - y0),
                   -x0 * s.width / (x1 - x0), y1 * s.height / (y1 - y0)])
        drawn = _svg_geometry(s.shapes)
        assert all(-0.5 <= v <= 448.5 for v in drawn.bounds)
        if kind == "area":
            overlap = drawn.intersection(expected).area / expected.union(drawn).area
            assert overlap > 0.99, f"{s.request_id}: outline overlaps the element by {overlap}"
        else:
            assert drawn.hausdorff_distance(expected) < 1.0, s.request_id
        checked += 1
    assert checked == len(page.samples)


def test_preview_command(demo, tmp_path):
    out = tmp_path / "p.html"
    res = CliRunner().invoke(main, ["-q", "-w", str(demo), "preview", "--out", str(out), "--n", "3",
                                    "--task", "1"])
    assert res.exit_code == 0, res.output
    assert res.output.startswith(f"{out}: 3 of ")
    res = CliRunner().invoke(main, ["-q", "-w", str(demo), "preview", "--where", "x = 1"])
    assert res.exit_code == 1
    assert res.output.startswith("Error: --where names an unknown column 'x'")
    assert "Example:" in CliRunner().invoke(main, ["preview", "--help"]).output


def test_preview_needs_the_caption_relations(tmp_path):
    Warehouse(tmp_path / "wh.duckdb").close()
    with Warehouse(tmp_path / "wh.duckdb", read_only=True) as wh, pytest.raises(InputError) as err:
        write_preview(wh, tmp_path / "p.html")
    assert str(err.value) == ("the preview needs `caption_requests`, which is not built yet: "
                              "run `rsteller-db build`")


def chromium(profile: Path, *args: str) -> subprocess.CompletedProcess:
    cmd = [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu",
           "--disable-background-networking", "--disable-component-update", "--no-first-run",
           f"--user-data-dir={profile}", *args]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=180, check=False)


def decoded_widths(profile: Path, page: Path) -> tuple[list[int], str]:
    done = chromium(profile, "--virtual-time-budget=15000", "--dump-dom", page.as_uri())
    assert done.returncode == 0, done.stderr[-2000:]
    widths = [int(w) for w in re.findall(r'data-natural-width="(\d+)"', done.stdout)]
    return widths, done.stdout


@pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed (apt-get install chromium)")
def test_every_image_decodes_in_headless_chromium(page, tmp_path):
    widths, dom = decoded_widths(tmp_path / "profile", page.path)
    assert len(widths) == len(page.samples) > 0
    assert all(w == 448 for w in widths)
    assert f'data-images="{len(page.samples)}"' in dom and 'data-broken="0"' in dom
    shot = tmp_path / "preview.png"
    done = chromium(tmp_path / "profile", "--window-size=1280,1600", f"--screenshot={shot}",
                    page.path.as_uri())
    assert done.returncode == 0 and shot.is_file()
    with Image.open(shot) as img:
        assert img.size == (1280, 1600)
        assert len(img.convert("RGB").getcolors(maxcolors=1 << 20) or range(1000)) > 100


@pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed (apt-get install chromium)")
def test_the_browser_check_sees_a_broken_image(page, tmp_path):
    html = page.path.read_text()
    first = re.search(r'src="data:image/jpeg;base64,([^"]+)"', html)
    broken = tmp_path / "broken.html"
    broken.write_text(html.replace(first.group(1), "bm90IGEganBlZw=="))  # "not a jpeg"
    widths, dom = decoded_widths(tmp_path / "profile", broken)
    assert widths.count(0) == 1 and 'data-broken="1"' in dom
